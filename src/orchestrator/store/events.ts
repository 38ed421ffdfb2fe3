/** Events sensors report, stored once per (agent, event id), and the Idempotency-Keys of their batches. */
import type { Database } from "bun:sqlite";
import type { TriggerEvent } from "../../core/protocol/index.ts";

export interface EventFilter {
  agent_id?: string;
  type?: string;
  severity?: string;
  /** Milliseconds since the epoch; events whose own timestamp is at or after it. */
  since?: number;
  limit?: number;
}

export interface StoredEvent extends TriggerEvent {
  /** The agent that reported it: the authenticated URL agent id, whatever the body said. */
  agent_id: string;
  received_at: string;
}

export function createEventStore(db: Database) {
  const insert = db.query(
    `INSERT OR IGNORE INTO events (agent_id, id, type, source, severity, timestamp, received_at, body)
     VALUES ($agent_id, $id, $type, $source, $severity, $timestamp, $received_at, $body)`,
  );
  const batch = db.query<{ accepted: number }, [string, string]>("SELECT accepted FROM event_batches WHERE agent_id = ? AND idempotency_key = ?");

  return {
    /** The answer recorded for a batch key, when that batch was stored before. */
    batchAnswer: (agentId: string, key: string): number | null => batch.get(agentId, key)?.accepted ?? null,

    recordBatch(agentId: string, key: string, accepted: number, now: number): void {
      db.run("INSERT OR IGNORE INTO event_batches (agent_id, idempotency_key, accepted, created_at) VALUES (?, ?, ?, ?)", [agentId, key, accepted, now]);
    },

    /** Stores the event unless its id is already stored for this agent; true when it is new. Call inside a transaction. */
    insert(agentId: string, event: TriggerEvent, now: number): boolean {
      const stored = { ...event, agent_id: agentId };
      const result = insert.run({
        agent_id: agentId,
        id: event.id,
        type: event.type,
        source: event.source,
        severity: event.severity,
        timestamp: Date.parse(event.timestamp),
        received_at: now,
        body: JSON.stringify(stored),
      });
      return result.changes === 1;
    },

    list(filter: EventFilter): StoredEvent[] {
      const where: string[] = [];
      const params: Record<string, string | number> = { limit: Math.min(filter.limit ?? 100, 1000) };
      for (const key of ["agent_id", "type", "severity"] as const) {
        const value = filter[key];
        if (value !== undefined) (where.push(`${key} = $${key}`), (params[key] = value));
      }
      if (filter.since !== undefined) (where.push("timestamp >= $since"), (params.since = filter.since));
      const clause = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
      return db
        .query<{ agent_id: string; body: string; received_at: number }, [Record<string, string | number>]>(
          `SELECT agent_id, body, received_at FROM events ${clause} ORDER BY timestamp DESC, seq DESC LIMIT $limit`,
        )
        .all(params)
        .map((row) => ({ ...(JSON.parse(row.body) as TriggerEvent), agent_id: row.agent_id, received_at: new Date(row.received_at).toISOString() }));
    },
  };
}
export type EventStore = ReturnType<typeof createEventStore>;
