/**
 * `ctx.state`: a small key-value store on bun:sqlite in launch.stateDir, one namespace per instance,
 * values as JSON. Opened on first use, closed at stop.
 */
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import type { PluginState } from "../../../../sdk/types.ts";
import { badRequest } from "./_denied.ts";

export const STATE_LIMITS = { maxKeyLength: 256, maxValueBytes: 1024 * 1024 };

export function createPluginState(stateDir: string, instance: string): PluginState & { close(): void } {
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
    db = opened;
    return opened;
  };
  const checkKey = (key: string) => {
    if (typeof key !== "string" || key === "" || key.length > STATE_LIMITS.maxKeyLength) {
      throw badRequest(`state: a key is a string of 1–${STATE_LIMITS.maxKeyLength} characters`);
    }
  };
  return {
    get<T>(key: string): T | undefined {
      checkKey(key);
      const row = open().query<{ value: string }, [string, string]>("SELECT value FROM kv WHERE instance = ? AND key = ?").get(instance, key);
      return row ? (JSON.parse(row.value) as T) : undefined;
    },
    set(key, value) {
      checkKey(key);
      const json = JSON.stringify(value);
      if (json === undefined) throw badRequest(`state: ${key}: the value is not JSON (use delete to remove a key)`);
      if (Buffer.byteLength(json) > STATE_LIMITS.maxValueBytes) throw badRequest(`state: ${key}: value over ${STATE_LIMITS.maxValueBytes} bytes`);
      open().run("INSERT INTO kv (instance, key, value) VALUES (?, ?, ?) ON CONFLICT (instance, key) DO UPDATE SET value = excluded.value", [instance, key, json]);
    },
    delete(key) {
      checkKey(key);
      return open().run("DELETE FROM kv WHERE instance = ? AND key = ?", [instance, key]).changes > 0;
    },
    keys() {
      return open().query<{ key: string }, [string]>("SELECT key FROM kv WHERE instance = ? ORDER BY key").all(instance).map((row) => row.key);
    },
    close() {
      db?.close();
      db = undefined;
    },
  };
}
