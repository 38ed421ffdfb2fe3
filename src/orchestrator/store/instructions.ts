/** Instructions as admins see them: create (idempotently), read, list, cancel. The agent side is queue.ts. */
import type { Database } from "bun:sqlite";
import type { Instruction } from "../../core/protocol/index.ts";
import { isFinal, PRIORITY_RANK, type InstructionRow, type JsonObject } from "./_rows.ts";

export interface NewInstruction {
  agent_id: string;
  plugin_id: string;
  instruction_type: Instruction["instruction_type"];
  plugin_configuration?: JsonObject;
  input_data?: JsonObject;
  context?: JsonObject;
  variables?: JsonObject;
  timeout_seconds?: number;
  max_retries?: number;
  priority?: Instruction["priority"];
  correlation_id?: string;
  /** Milliseconds since the epoch. */
  expires_at?: number;
  idempotency_key?: string;
  rule_id?: string;
  event_id?: string;
}

export interface InstructionFilter {
  agent_id?: string;
  status?: string;
  limit?: number;
}

export function createInstructionStore(db: Database) {
  const byId = db.query<InstructionRow, [string]>("SELECT * FROM instructions WHERE id = ?");
  const byKey = db.query<InstructionRow, [string]>("SELECT * FROM instructions WHERE idempotency_key = ?");
  const insert = db.query(
    `INSERT INTO instructions (id, agent_id, plugin_id, instruction_type, plugin_configuration, input_data, context, variables,
       timeout_seconds, max_retries, retry_count, priority, priority_rank, correlation_id, idempotency_key, rule_id, event_id,
       expires_at, status, created_at, updated_at)
     VALUES ($id, $agent_id, $plugin_id, $instruction_type, $plugin_configuration, $input_data, $context, $variables,
       $timeout_seconds, $max_retries, 0, $priority, $priority_rank, $correlation_id, $idempotency_key, $rule_id, $event_id,
       $expires_at, 'pending', $now, $now)`,
  );
  const json = (value: JsonObject | undefined) => (value === undefined ? null : JSON.stringify(value));

  return {
    get: (id: string): InstructionRow | null => byId.get(id),

    /** Returns the existing instruction, `created: false`, when the idempotency key was seen before. */
    create(input: NewInstruction, now: number): { row: InstructionRow; created: boolean } {
      return db.transaction(() => {
        const existing = input.idempotency_key === undefined ? null : byKey.get(input.idempotency_key);
        if (existing) return { row: existing, created: false };
        const id = `ins_${crypto.randomUUID()}`;
        const priority = input.priority ?? "normal";
        insert.run({
          id,
          agent_id: input.agent_id,
          plugin_id: input.plugin_id,
          instruction_type: input.instruction_type,
          plugin_configuration: JSON.stringify(input.plugin_configuration ?? {}),
          input_data: JSON.stringify(input.input_data ?? {}),
          context: json(input.context),
          variables: json(input.variables),
          timeout_seconds: input.timeout_seconds ?? 0,
          max_retries: input.max_retries ?? 0,
          priority,
          priority_rank: PRIORITY_RANK[priority],
          correlation_id: input.correlation_id ?? null,
          idempotency_key: input.idempotency_key ?? null,
          rule_id: input.rule_id ?? null,
          event_id: input.event_id ?? null,
          expires_at: input.expires_at ?? null,
          now,
        });
        return { row: byId.get(id)!, created: true };
      })();
    },

    list(filter: InstructionFilter): InstructionRow[] {
      const where: string[] = [];
      const params: Record<string, string | number> = { limit: Math.min(filter.limit ?? 100, 1000) };
      if (filter.agent_id !== undefined) (where.push("agent_id = $agent_id"), (params.agent_id = filter.agent_id));
      if (filter.status !== undefined) (where.push("status = $status"), (params.status = filter.status));
      const clause = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
      return db.query<InstructionRow, [Record<string, string | number>]>(`SELECT * FROM instructions ${clause} ORDER BY seq DESC LIMIT $limit`).all(params);
    },

    /**
     * A pending instruction is cancelled at once. A delivered or executing one only gets
     * `cancel_requested`: the agent learns it from its next heartbeat or update and reports the end.
     */
    cancel(id: string, now: number): InstructionRow | null {
      return db.transaction(() => {
        const row = byId.get(id);
        if (!row || isFinal(row.status)) return row;
        if (row.status === "pending") {
          db.run(
            "UPDATE instructions SET status = 'cancelled', cancel_requested = 1, finished_at = ?, updated_at = ?, error_message = 'cancelled by an admin' WHERE id = ?",
            [now, now, id],
          );
        } else {
          db.run("UPDATE instructions SET cancel_requested = 1, updated_at = ? WHERE id = ?", [now, id]);
        }
        return byId.get(id);
      })();
    },
  };
}
export type InstructionStore = ReturnType<typeof createInstructionStore>;
