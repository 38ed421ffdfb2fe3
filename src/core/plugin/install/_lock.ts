/**
 * One change at a time to one plugin (install, update, rollback, remove), across tasks and processes. Without it
 * two updates could each prune the version the other just placed. As for the agent home (core/home/_lock.ts), the
 * kernel holds the lock: `<pluginsDir>/.locks/<id>.lock` is an SQLite database kept in an open BEGIN EXCLUSIVE
 * transaction, freed when the holder closes it or dies. A busy lock fails at once rather than blocking the event
 * loop in SQLite's busy handler; the critical section is a few renames, so the caller simply tries again.
 */
import { Database } from "bun:sqlite";
import fs from "node:fs";
import path from "node:path";
import { errorMessage, StavilyError } from "../../errors.ts";

export const LOCKS_DIR = ".locks";

/** Takes the lock of plugin `id` (a checked name) or throws; call the returned function to release it. */
export function lockPlugin(pluginsDir: string, id: string): () => void {
  const dir = path.join(path.resolve(pluginsDir), LOCKS_DIR);
  const file = path.join(dir, `${id}.lock`);
  let db: Database;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o750 });
    db = new Database(file, { create: true });
  } catch (error) {
    throw new StavilyError("plugin", `cannot lock plugin ${id} (${file}): ${errorMessage(error)}`, { cause: error });
  }
  try {
    db.run("PRAGMA locking_mode=EXCLUSIVE");
    db.run("PRAGMA journal_mode=MEMORY");
    db.run("BEGIN EXCLUSIVE");
  } catch (error) {
    db.close();
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === "string" && code.startsWith("SQLITE_BUSY")) {
      throw new StavilyError("plugin", `plugin ${id} is being installed, updated or removed by another task; try again`, { cause: error });
    }
    throw new StavilyError("plugin", `cannot lock plugin ${id} (${file}): ${errorMessage(error)}`, { cause: error });
  }
  return () => db.close();
}
