import { Database } from "bun:sqlite";
import { resolve } from "node:path";
import { StavilyError } from "../../core/errors.ts";
import { MIGRATIONS } from "./_migrations.ts";

/** `:memory:` stays in memory; anything else is a file, resolved against `cwd`. */
export function resolveDbPath(file: string, cwd = process.cwd()): string {
  return file === ":memory:" ? file : resolve(cwd, file);
}

/**
 * Opens (creating if needed) the orchestrator database and brings its schema up to date.
 * bun:sqlite gets an absolute path because a relative one is resolved against whatever the
 * process's cwd is when the file is reopened, not where the user ran the command.
 */
export function openDatabase(file: string, cwd = process.cwd()): Database {
  const path = resolveDbPath(file, cwd);
  let db: Database;
  try {
    db = new Database(path, { create: true, strict: true });
  } catch (error) {
    throw new StavilyError("orchestrator", `cannot open database ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    // WAL lets admin reads run while an agent's write is in flight; busy_timeout rides out short locks.
    db.run("PRAGMA journal_mode = WAL");
    db.run("PRAGMA busy_timeout = 5000");
    db.run("PRAGMA synchronous = NORMAL");
    migrate(db);
  } catch (error) {
    db.close();
    throw new StavilyError("orchestrator", `cannot prepare database ${path}: ${(error as Error).message}`, { cause: error });
  }
  return db;
}

function migrate(db: Database): void {
  const current = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (current > MIGRATIONS.length) {
    throw new Error(`schema version ${current} is newer than this stavily (${MIGRATIONS.length}); upgrade stavily`);
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.run(MIGRATIONS[version]!);
      // PRAGMA does not take bound parameters; the value is our own integer.
      db.run(`PRAGMA user_version = ${version + 1}`);
    })();
  }
}
