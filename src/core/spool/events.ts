/**
 * The sensor's event spool: every event enters it before anything else happens to it, and leaves
 * only when the orchestrator has acknowledged it. bun:sqlite in WAL mode; rows are taken oldest
 * first (insertion order), which keeps each trigger's order. Bounded by a count and by bytes; on
 * overflow the oldest (or, by policy, the newest) events are dropped and counted.
 *
 * Durability: each append is one transaction that survives kill -9 (WAL, synchronous=NORMAL); a
 * power cut may lose the last fraction of a second of events, which the sensor re-detects or
 * cannot know of anyway. Acknowledged rows are deleted in the same transaction that marks them.
 */
import { StavilyError, errorMessage } from "../errors.ts";
import type { TriggerEvent } from "../protocol/index.ts";
import { openStateDb } from "./_sqlite.ts";

export type OverflowPolicy = "drop_oldest" | "drop_newest";

export interface EventSpoolOptions {
  maxEvents: number;
  maxBytes: number;
  overflow: OverflowPolicy;
}

export interface SpooledEvent {
  seq: number;
  event: TriggerEvent;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  body TEXT NOT NULL,
  bytes INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
`;

export function openEventSpool(file: string, options: EventSpoolOptions) {
  const db = openStateDb(file, { component: "spool", what: "event spool", schema: SCHEMA });
  const insert = db.query("INSERT OR IGNORE INTO events (id, body, bytes) VALUES ($id, $body, $bytes)");
  const totals = db.query<{ count: number; bytes: number | null }, []>("SELECT count(*) AS count, sum(bytes) AS bytes FROM events");
  const oldest = db.query<{ seq: number; bytes: number }, { limit: number }>("SELECT seq, bytes FROM events ORDER BY seq LIMIT $limit");
  const newest = db.query<{ seq: number; bytes: number }, { limit: number }>("SELECT seq, bytes FROM events ORDER BY seq DESC LIMIT $limit");
  const removeSeq = db.query("DELETE FROM events WHERE seq = $seq");
  const removeId = db.query("DELETE FROM events WHERE id = $id");
  const head = db.query<{ seq: number; body: string }, { limit: number }>("SELECT seq, body FROM events ORDER BY seq LIMIT $limit");
  const bump = db.query("INSERT INTO counters (name, value) VALUES ($name, $by) ON CONFLICT(name) DO UPDATE SET value = value + $by");
  const counter = db.query<{ value: number }, { name: string }>("SELECT value FROM counters WHERE name = $name");

  function write<T>(what: string, run: () => T): T {
    try {
      return db.transaction(run).immediate();
    } catch (error) {
      throw new StavilyError("spool", `event spool ${file}: ${what} failed: ${errorMessage(error)}`, { cause: error });
    }
  }

  /** Drops events until the spool is within its bounds; returns how many it dropped. */
  function enforceBounds(): number {
    let dropped = 0;
    for (;;) {
      const { count, bytes } = totals.get()!;
      const excess = Math.max(count - options.maxEvents, 0);
      if (excess === 0 && (bytes ?? 0) <= options.maxBytes) return dropped;
      const victims = (options.overflow === "drop_oldest" ? oldest : newest).all({ limit: Math.max(excess, 1) });
      if (victims.length === 0) return dropped;
      for (const victim of victims) removeSeq.run({ seq: victim.seq });
      dropped += victims.length;
    }
  }

  return {
    /**
     * Adds events (an id already spooled is ignored) and applies the bounds, in one transaction.
     * Returns how many events the bounds dropped.
     */
    append(events: readonly TriggerEvent[]): { dropped: number } {
      return write("append", () => {
        for (const event of events) {
          const body = JSON.stringify(event);
          insert.run({ id: event.id, body, bytes: body.length });
        }
        const dropped = enforceBounds();
        if (dropped > 0) bump.run({ name: "dropped", by: dropped });
        return { dropped };
      });
    },
    /** The oldest `limit` events, not removed. */
    peek(limit: number): SpooledEvent[] {
      return head.all({ limit }).map((row) => ({ seq: row.seq, event: JSON.parse(row.body) as TriggerEvent }));
    },
    /** Removes acknowledged events. */
    acknowledge(ids: readonly string[]): void {
      write("acknowledge", () => {
        for (const id of ids) removeId.run({ id });
        bump.run({ name: "delivered", by: ids.length });
      });
    },
    depth(): { events: number; bytes: number } {
      const { count, bytes } = totals.get()!;
      return { events: count, bytes: bytes ?? 0 };
    },
    /** Totals since the spool file was created: delivered and dropped events. */
    counters(): { delivered: number; dropped: number } {
      return { delivered: counter.get({ name: "delivered" })?.value ?? 0, dropped: counter.get({ name: "dropped" })?.value ?? 0 };
    },
    close(): void {
      db.close();
    },
  };
}

export type EventSpool = ReturnType<typeof openEventSpool>;
