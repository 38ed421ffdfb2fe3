/**
 * The action agent's journal and result outbox, one bun:sqlite table in WAL mode:
 *
 *   received ──start──▶ started ──finish──▶ finished (result kept, unacknowledged) ──ack──▶ acknowledged
 *
 * An instruction id already finished is never executed again (its stored result is sent again);
 * one found `started` at boot was cut off by a crash. A result is in the outbox from the moment it
 * is finished until the orchestrator acknowledges it, so a restart resends what was not. Every
 * change is one transaction; the file is in the agent home's data/state/, so agents never share it.
 *
 * Durability: every commit survives the process being killed (WAL, synchronous=NORMAL). `start`
 * alone is also flushed to the disk before it returns (synchronous=FULL for that commit, which
 * flushes every earlier frame of the WAL too): after a power loss an instruction whose plugin may
 * have run is never mistaken for one that never started, so it is not run twice. A `finish` or
 * `acknowledge` lost to a power cut makes the instruction look cut off (agent_restarted) — its
 * effect still happened once. One flush per instruction instead of four.
 */
import { StavilyError, errorMessage } from "../errors.ts";
import type { Instruction, ResultRequest } from "../protocol/index.ts";
import { openStateDb } from "./_sqlite.ts";

export type JournalState = "received" | "started" | "finished";

export interface JournalEntry {
  id: string;
  state: JournalState;
  instruction: Instruction;
  result?: ResultRequest;
  acknowledged: boolean;
  /** Times the plugin was started for it (retries and reruns included). */
  attempts: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS instructions (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL CHECK (state IN ('received', 'started', 'finished')),
  instruction TEXT NOT NULL,
  result TEXT,
  acknowledged INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  received_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS instructions_outbox ON instructions (state, acknowledged);
CREATE INDEX IF NOT EXISTS instructions_age ON instructions (updated_at);
`;

interface Row {
  id: string;
  state: JournalState;
  instruction: string;
  result: string | null;
  acknowledged: number;
  attempts: number;
}

/** `file` is absolute (bun:sqlite follows the working directory otherwise), or ":memory:". */
export function openJournal(file: string, now: () => number = Date.now) {
  const db = openStateDb(file, { component: "journal", what: "journal", schema: SCHEMA });

  const get = db.query<Row, { id: string }>("SELECT * FROM instructions WHERE id = $id");
  const insert = db.query("INSERT INTO instructions (id, state, instruction, received_at, updated_at) VALUES ($id, 'received', $instruction, $now, $now)");
  const toStarted = db.query("UPDATE instructions SET state = 'started', attempts = attempts + 1, updated_at = $now WHERE id = $id AND state != 'finished'");
  const toFinished = db.query("UPDATE instructions SET state = 'finished', result = $result, acknowledged = 0, updated_at = $now WHERE id = $id AND state != 'finished'");
  const toAcked = db.query("UPDATE instructions SET acknowledged = 1, updated_at = $now WHERE id = $id AND state = 'finished'");
  const outbox = db.query<Row, []>("SELECT * FROM instructions WHERE state = 'finished' AND acknowledged = 0 ORDER BY updated_at");
  const interrupted = db.query<Row, []>("SELECT * FROM instructions WHERE state != 'finished' ORDER BY received_at");
  const prune = db.query("DELETE FROM instructions WHERE state = 'finished' AND acknowledged = 1 AND updated_at < $before");

  const entry = (row: Row): JournalEntry => ({
    id: row.id,
    state: row.state,
    instruction: JSON.parse(row.instruction) as Instruction,
    result: row.result ? (JSON.parse(row.result) as ResultRequest) : undefined,
    acknowledged: row.acknowledged === 1,
    attempts: row.attempts,
  });

  /** Runs a write as one transaction and names the journal in any failure (disk full, read-only). */
  function write<T>(what: string, run: () => T): T {
    try {
      return db.transaction(run).immediate();
    } catch (error) {
      throw new StavilyError("journal", `journal ${file}: ${what} failed: ${errorMessage(error)}`, { cause: error });
    }
  }

  return {
    /**
     * Records a delivered instruction. Returns the entry as it was before this delivery, or
     * undefined when it is new: a known id is never recorded (or run) twice.
     */
    receive(instruction: Instruction): JournalEntry | undefined {
      return write("receive", () => {
        const row = get.get({ id: instruction.id });
        if (row) return entry(row);
        insert.run({ id: instruction.id, instruction: JSON.stringify(instruction), now: now() });
        return undefined;
      });
    },
    start(id: string): void {
      // PRAGMA synchronous cannot change inside a transaction: around it, for this one commit.
      db.run("PRAGMA synchronous = FULL");
      try {
        write("start", () => toStarted.run({ id, now: now() }));
      } finally {
        db.run("PRAGMA synchronous = NORMAL");
      }
    },
    /** Stores the result and puts it in the outbox; a second finish of one id changes nothing. */
    finish(id: string, result: ResultRequest): JournalEntry {
      return write("finish", () => {
        toFinished.run({ id, result: JSON.stringify(result), now: now() });
        return entry(get.get({ id })!);
      });
    },
    acknowledge(id: string): void {
      write("acknowledge", () => toAcked.run({ id, now: now() }));
    },
    get(id: string): JournalEntry | undefined {
      const row = get.get({ id });
      return row ? entry(row) : undefined;
    },
    /** Finished results the orchestrator has not acknowledged, oldest first. */
    outbox(): JournalEntry[] {
      return outbox.all().map(entry);
    },
    /** Instructions received or started but never finished: the agent stopped under them. */
    interrupted(): JournalEntry[] {
      return interrupted.all().map(entry);
    },
    /** Deletes acknowledged entries last changed more than `retentionMs` ago; returns how many. */
    prune(retentionMs: number): number {
      return write("prune", () => prune.run({ before: now() - retentionMs }).changes);
    },
    close(): void {
      db.close();
    },
  };
}

export type Journal = ReturnType<typeof openJournal>;
