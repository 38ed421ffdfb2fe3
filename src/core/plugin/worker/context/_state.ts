/**
 * `ctx.state`: a small key-value store on bun:sqlite in launch.stateDir, one namespace per instance,
 * values as JSON. Opened on first use, closed at stop.
 *
 * A `detect` run writes to an overlay, committed only when the next run begins (or at stop) and only
 * if the host took the run's events: by then the sensor has spooled them, so a kill -9 in between
 * leaves the state where it was and the re-run emits the same events again. Their ids come from the
 * run marker committed with the state, so the spool and the orchestrator see repeats as one event.
 *
 * ctx.state stays one object per instance (plugins key their in-memory state by it); which run a call
 * belongs to is told by the async context the run's `detect` runs in. Other hooks, `watch`, and
 * anything of a run's still going after it settled, write directly, as before.
 */
import { Database } from "bun:sqlite";
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import type { PluginState } from "../../../../sdk/types.ts";
import { badRequest } from "./_denied.ts";

export const STATE_LIMITS = { maxKeyLength: 256, maxValueBytes: 1024 * 1024 };

/** One `detect` run: where its ctx.state calls go, and the ids of the events it returns. */
export interface DetectRun {
  /** Calls `detect`: the ctx.state calls made in it, until it settles, are the run's. */
  within<T>(detect: () => Promise<T>): Promise<T>;
  /** The id of the run's `index`-th event: the same for the same marker and index. */
  eventId(index: number): string;
  /** The run returned `events` events; a run never ended (it failed, it was aborted) is dropped with its writes. */
  end(events: number): void;
}

/** A pending run's writes: JSON, or null for a delete. */
type Overlay = Map<string, string | null>;

interface Run {
  overlay: Overlay;
  events: number;
  /** It returned events the host may take. */
  ended: boolean;
  /** Its detect has not settled yet. */
  going: boolean;
}

export function createPluginState(stateDir: string, instance: string) {
  let db: Database | undefined;
  const open = (): Database => {
    if (db) return db;
    if (!isAbsolute(stateDir)) throw badRequest(`state: stateDir must be absolute (got "${stateDir}")`);
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const opened = new Database(join(stateDir, "state.sqlite"), { create: true, strict: true });
    // Several instances of one plugin share the file; WAL plus a busy timeout lets them take turns.
    opened.run("PRAGMA journal_mode = WAL");
    opened.run("PRAGMA busy_timeout = 5000");
    opened.run("CREATE TABLE IF NOT EXISTS kv (instance TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (instance, key))");
    // Apart from kv, so no key a plugin chooses can reach it.
    opened.run("CREATE TABLE IF NOT EXISTS runs (instance TEXT PRIMARY KEY, marker TEXT NOT NULL)");
    db = opened;
    return opened;
  };
  const checkKey = (key: string) => {
    if (typeof key !== "string" || key === "" || key.length > STATE_LIMITS.maxKeyLength) {
      throw badRequest(`state: a key is a string of 1–${STATE_LIMITS.maxKeyLength} characters`);
    }
  };
  const encode = (key: string, value: unknown): string => {
    const json = JSON.stringify(value);
    if (json === undefined) throw badRequest(`state: ${key}: the value is not JSON (use delete to remove a key)`);
    if (Buffer.byteLength(json) > STATE_LIMITS.maxValueBytes) throw badRequest(`state: ${key}: value over ${STATE_LIMITS.maxValueBytes} bytes`);
    return json;
  };
  const read = (key: string): string | undefined =>
    open().query<{ value: string }, [string, string]>("SELECT value FROM kv WHERE instance = ? AND key = ?").get(instance, key)?.value;
  const write = (key: string, json: string) =>
    open().run("INSERT INTO kv (instance, key, value) VALUES (?, ?, ?) ON CONFLICT (instance, key) DO UPDATE SET value = excluded.value", [instance, key, json]);
  const remove = (key: string): boolean => open().run("DELETE FROM kv WHERE instance = ? AND key = ?", [instance, key]).changes > 0;
  const committedKeys = (): string[] => open().query<{ key: string }, [string]>("SELECT key FROM kv WHERE instance = ? ORDER BY key").all(instance).map((row) => row.key);
  const setMarker = (marker: string) =>
    open().run("INSERT INTO runs (instance, marker) VALUES (?, ?) ON CONFLICT (instance) DO UPDATE SET marker = excluded.marker", [instance, marker]);
  /** The committed marker, created (and committed) before the instance's first run. */
  const marker = (): string => {
    const row = open().query<{ marker: string }, [string]>("SELECT marker FROM runs WHERE instance = ?").get(instance);
    if (row) return row.marker;
    const created = crypto.randomUUID();
    setMarker(created);
    return created;
  };

  const runs = new AsyncLocalStorage<Run>();
  /** The writes of the run this call belongs to, while it goes. */
  const overlay = (): Overlay | undefined => {
    const run = runs.getStore();
    return run?.going ? run.overlay : undefined;
  };

  let last: Run | undefined;
  /**
   * Commits the last run's writes with a fresh marker, in one transaction, when `taken` (the host
   * took its events) and it changed something or returned events; otherwise drops them.
   */
  const commitRun = (taken: boolean): void => {
    const run = last;
    last = undefined;
    if (!taken || !run?.ended || (run.overlay.size === 0 && run.events === 0)) return;
    open()
      .transaction(() => {
        for (const [key, json] of run.overlay) {
          if (json === null) remove(key);
          else write(key, json);
        }
        setMarker(crypto.randomUUID());
      })
      .immediate();
  };

  return {
    get<T>(key: string): T | undefined {
      checkKey(key);
      const pending = overlay();
      const json = pending?.has(key) ? pending.get(key) : read(key);
      return json == null ? undefined : (JSON.parse(json) as T);
    },
    set(key: string, value: unknown) {
      checkKey(key);
      const json = encode(key, value);
      const pending = overlay();
      if (pending) pending.set(key, json);
      else write(key, json);
    },
    delete(key: string) {
      checkKey(key);
      const pending = overlay();
      if (!pending) return remove(key);
      const existed = pending.has(key) ? pending.get(key) !== null : read(key) !== undefined;
      pending.set(key, null);
      return existed;
    },
    keys(): string[] {
      const pending = overlay();
      if (!pending) return committedKeys();
      const keys = new Set(committedKeys());
      for (const [key, json] of pending) {
        if (json === null) keys.delete(key);
        else keys.add(key);
      }
      return [...keys].sort();
    },
    commitRun,
    /** Begins a detect run, after committing the previous one (see commitRun). */
    beginRun(taken: boolean): DetectRun {
      commitRun(taken);
      // Read when the run has events: a trigger that returns none and keeps no state opens no file.
      let runMarker: string | undefined;
      const run: Run = { overlay: new Map(), events: 0, ended: false, going: true };
      last = run;
      return {
        async within(detect) {
          try {
            return await runs.run(run, detect);
          } finally {
            run.going = false;
          }
        },
        eventId: (index) => runEventId((runMarker ??= marker()), index),
        end(events) {
          run.events = events;
          run.ended = true;
        },
      };
    },
    close() {
      db?.close();
      db = undefined;
    },
  };
}

/** An RFC 9562 UUIDv8 from SHA-256 of the run marker and the event's index in the run. */
export function runEventId(marker: string, index: number): string {
  const bytes = createHash("sha256").update(`${marker}:${index}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
