/**
 * The agent's state databases (event spool, journal): one way to open them. WAL so readers never block
 * the writer; NORMAL sync (WAL keeps a commit atomic, a power cut may lose the last ones, never corrupt);
 * a busy timeout for the CLI reading beside a running agent. An open that fails says the OS's reason.
 */
import { Database } from "bun:sqlite";
import { isAbsolute } from "node:path";
import { StavilyError, errorMessage } from "../errors.ts";
import { openProblem } from "./_writable.ts";

/** `file` is absolute (bun:sqlite follows the working directory otherwise), or ":memory:". */
export function openStateDb(file: string, options: { component: string; what: string; schema: string }): Database {
  const { component, what, schema } = options;
  if (file !== ":memory:" && !isAbsolute(file)) throw new StavilyError(component, `${what} path must be absolute, got ${file}`);
  try {
    const db = new Database(file, { create: true, strict: true });
    db.run("PRAGMA journal_mode = WAL");
    db.run("PRAGMA synchronous = NORMAL");
    db.run("PRAGMA busy_timeout = 5000");
    db.run(schema);
    return db;
  } catch (error) {
    throw new StavilyError(component, `cannot open the ${what} ${file}: ${errorMessage(error)}${openProblem(file)}`, { cause: error });
  }
}
