/**
 * The agent side of instructions: leases, delivery, progress and results. Leases are checked lazily
 * (`sweep` runs inside each delivery) so nothing needs a background timer; a long poll wakes itself
 * when the earliest lease of its agent runs out (`nextLeaseExpiry`). An instruction no agent ever
 * answers (one it cannot parse, say) is not redelivered forever: its lease lapsing after `maxDeliveries`
 * deliveries fails it as undeliverable.
 */
import type { Database } from "bun:sqlite";
import type { ResultRequest, UpdateRequest } from "../../core/protocol/index.ts";
import { isFinal, type InstructionRow } from "./_rows.ts";

/** Oldest lines are dropped past this many, so a chatty plugin cannot grow a row without bound. */
export const MAX_LOG_LINES = 1000;

export function appendLog(stored: string, lines: readonly string[] | undefined, cap = MAX_LOG_LINES): string {
  if (!lines || lines.length === 0) return stored;
  const merged = [...(JSON.parse(stored) as string[]), ...lines];
  return JSON.stringify(merged.slice(Math.max(0, merged.length - cap)));
}

export type UpdateOutcome =
  | { found: false }
  | { found: true; success: boolean; updated_fields: string[]; cancelled: boolean };

export type FinishOutcome = { found: false } | { found: true; changed: boolean };

export function createQueue(db: Database, leaseMs: number, maxDeliveries: number) {
  const byId = db.query<InstructionRow, [string]>("SELECT * FROM instructions WHERE id = ?");
  const nextPending = db.query<InstructionRow, [string]>(
    "SELECT * FROM instructions WHERE agent_id = ? AND status = 'pending' ORDER BY priority_rank DESC, seq LIMIT 1",
  );
  const owned = (agentId: string, id: string) => {
    const row = byId.get(id);
    return row && row.agent_id === agentId ? row : null;
  };

  /**
   * Ends lapsed leases (cancelled if an admin asked, failed as undeliverable after the last delivery, else
   * back to pending) and fails expired pending work. The order of the statements is the precedence.
   */
  function sweep(now: number): void {
    db.transaction(() => {
      db.query(
        `UPDATE instructions SET status = 'cancelled', finished_at = $now, updated_at = $now, lease_expires_at = NULL,
           error_message = 'cancelled by an admin; the agent stopped reporting'
         WHERE status IN ('delivered', 'executing') AND cancel_requested = 1 AND lease_expires_at <= $now`,
      ).run({ now });
      db.query(
        `UPDATE instructions SET status = 'failed', finished_at = $now, updated_at = $now, lease_expires_at = NULL,
           error_message = 'undeliverable: delivered ' || delivery_count || ' times without a result',
           error_details = json_object('reason', 'undeliverable', 'deliveries', delivery_count)
         WHERE status IN ('delivered', 'executing') AND lease_expires_at <= $now AND delivery_count >= $max`,
      ).run({ now, max: maxDeliveries });
      db.query(
        `UPDATE instructions SET status = 'pending', lease_expires_at = NULL, updated_at = $now
         WHERE status IN ('delivered', 'executing') AND lease_expires_at <= $now`,
      ).run({ now });
      db.query(
        `UPDATE instructions SET status = 'failed', error_message = 'expired', finished_at = $now, updated_at = $now
         WHERE status = 'pending' AND expires_at IS NOT NULL AND expires_at <= $now`,
      ).run({ now });
    })();
  }

  return {
    sweep,

    /** Marks the agent's next pending instruction delivered with a fresh lease, or returns null. */
    claimNext(agentId: string, now: number): InstructionRow | null {
      return db.transaction(() => {
        sweep(now);
        const row = nextPending.get(agentId);
        if (!row) return null;
        db.run(
          `UPDATE instructions SET status = 'delivered', lease_expires_at = ?, delivered_at = ?, updated_at = ?,
             delivery_count = delivery_count + 1 WHERE id = ?`,
          [now + leaseMs, now, now, row.id],
        );
        return byId.get(row.id);
      })();
    },

    /** When the earliest lease of this agent lapses (ms since the epoch), or null if it holds none. */
    nextLeaseExpiry(agentId: string): number | null {
      const row = db
        .query<{ at: number | null }, [string]>(
          "SELECT MIN(lease_expires_at) AS at FROM instructions WHERE agent_id = ? AND status IN ('delivered', 'executing')",
        )
        .get(agentId);
      return row?.at ?? null;
    },

    cancelRequested(agentId: string): string[] {
      return db
        .query<{ id: string }, [string]>(
          "SELECT id FROM instructions WHERE agent_id = ? AND cancel_requested = 1 AND status IN ('delivered', 'executing') ORDER BY seq",
        )
        .all(agentId)
        .map((row) => row.id);
    },

    /** A progress report also proves the agent is alive: it renews the lease (and reclaims a lapsed one). */
    update(agentId: string, id: string, body: UpdateRequest, now: number): UpdateOutcome {
      return db.transaction((): UpdateOutcome => {
        const row = owned(agentId, id);
        if (!row) return { found: false };
        if (isFinal(row.status)) return { found: true, success: false, updated_fields: [], cancelled: row.status === "cancelled" };
        const status = body.status ?? (row.status === "pending" ? "delivered" : row.status);
        const final = isFinal(status);
        db.query(
          `UPDATE instructions SET status = $status, max_retries = $max_retries, retry_count = $retry_count,
             execution_log = $log, updated_at = $now, lease_expires_at = $lease,
             started_at = CASE WHEN $status = 'executing' THEN COALESCE(started_at, $now) ELSE started_at END,
             finished_at = CASE WHEN $final THEN $now ELSE finished_at END
           WHERE id = $id`,
        ).run({
            id,
            status,
            max_retries: body.max_retries ?? row.max_retries,
            retry_count: body.retry_count ?? row.retry_count,
            log: appendLog(row.execution_log, body.execution_log),
            now,
            lease: final ? null : now + leaseMs,
            final: final ? 1 : 0,
          });
        const updated_fields = (["status", "max_retries", "retry_count", "execution_log"] as const).filter((key) => body[key] !== undefined);
        return { found: true, success: true, updated_fields, cancelled: row.cancel_requested === 1 };
      })();
    },

    /** Stores the final result once; a repeated result for a finished instruction changes nothing. */
    finish(agentId: string, id: string, body: ResultRequest, now: number): FinishOutcome {
      return db.transaction((): FinishOutcome => {
        const row = owned(agentId, id);
        if (!row) return { found: false };
        if (isFinal(row.status)) return { found: true, changed: false };
        db.query(
          `UPDATE instructions SET status = $status, result = $result, error_message = $error_message,
             error_details = $error_details, execution_log = $log, retry_count = $retry_count,
             finished_at = $now, updated_at = $now, lease_expires_at = NULL WHERE id = $id`,
        ).run({
            id,
            status: body.status,
            result: body.result === undefined ? null : JSON.stringify(body.result),
            error_message: body.error_message ?? null,
            error_details: body.error_details === undefined ? null : JSON.stringify(body.error_details),
            log: appendLog(row.execution_log, body.execution_log),
            retry_count: body.retry_count ?? row.retry_count,
            now,
          });
        return { found: true, changed: true };
      })();
    },
  };
}
export type Queue = ReturnType<typeof createQueue>;
