/** Instruction rows as SQLite holds them, and the two shapes the APIs show: the wire one and the admin one. */
import type { Instruction } from "../../core/protocol/index.ts";

export type JsonObject = Record<string, unknown>;

export interface InstructionRow {
  seq: number;
  id: string;
  agent_id: string;
  plugin_id: string;
  instruction_type: Instruction["instruction_type"];
  plugin_configuration: string;
  input_data: string;
  context: string | null;
  variables: string | null;
  timeout_seconds: number;
  max_retries: number;
  retry_count: number;
  priority: Instruction["priority"];
  priority_rank: number;
  correlation_id: string | null;
  idempotency_key: string | null;
  rule_id: string | null;
  event_id: string | null;
  expires_at: number | null;
  status: string;
  cancel_requested: number;
  lease_expires_at: number | null;
  delivery_count: number;
  created_at: number;
  updated_at: number;
  delivered_at: number | null;
  started_at: number | null;
  finished_at: number | null;
  result: string | null;
  error_message: string | null;
  error_details: string | null;
  execution_log: string;
}

export const PRIORITY_RANK: Record<Instruction["priority"], number> = { low: 0, normal: 1, high: 2, urgent: 3 };
export const FINAL_STATUSES = ["completed", "failed", "timeout", "cancelled"] as const;

export function isFinal(status: string): boolean {
  return (FINAL_STATUSES as readonly string[]).includes(status);
}

const iso = (ms: number | null) => (ms === null ? undefined : new Date(ms).toISOString());
const parse = (text: string | null) => (text === null ? undefined : (JSON.parse(text) as JsonObject));

/** What an agent receives: exactly the shared InstructionSchema fields. */
export function toWire(row: InstructionRow): Instruction {
  const out: Instruction = {
    id: row.id,
    plugin_id: row.plugin_id,
    instruction_type: row.instruction_type,
    plugin_configuration: JSON.parse(row.plugin_configuration) as JsonObject,
    input_data: JSON.parse(row.input_data) as JsonObject,
    timeout_seconds: row.timeout_seconds,
    max_retries: row.max_retries,
    retry_count: row.retry_count,
    priority: row.priority,
    created_at: iso(row.created_at),
  };
  if (row.context !== null) out.context = parse(row.context);
  if (row.variables !== null) out.variables = parse(row.variables);
  if (row.correlation_id !== null) out.correlation_id = row.correlation_id;
  if (row.expires_at !== null) out.expires_at = iso(row.expires_at);
  return out;
}

/** What an admin sees: the wire fields plus state, result, log and timestamps. */
export function toAdmin(row: InstructionRow) {
  return {
    ...toWire(row),
    agent_id: row.agent_id,
    status: row.status,
    cancel_requested: row.cancel_requested === 1,
    delivery_count: row.delivery_count,
    lease_expires_at: iso(row.lease_expires_at) ?? null,
    updated_at: iso(row.updated_at),
    delivered_at: iso(row.delivered_at) ?? null,
    started_at: iso(row.started_at) ?? null,
    finished_at: iso(row.finished_at) ?? null,
    result: parse(row.result) ?? null,
    error_message: row.error_message,
    error_details: parse(row.error_details) ?? null,
    execution_log: JSON.parse(row.execution_log) as string[],
    rule_id: row.rule_id,
    event_id: row.event_id,
  };
}
export type AdminInstruction = ReturnType<typeof toAdmin>;
