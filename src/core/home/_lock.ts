/**
 * One running agent per home. The kernel holds the lock, so it dies with the process however the process dies
 * (kill -9, power loss, reboot) and there is no pid liveness guessing: `<home>/agent.lock` is an SQLite database
 * kept inside an open `BEGIN EXCLUSIVE` transaction for the life of the connection. SQLite takes fcntl locks on
 * POSIX and LockFileEx on Windows; any other connection, in this process or another, gets SQLITE_BUSY.
 *
 * The transaction never writes and the journal lives in memory, so `agent.lock` stays an empty file and nothing
 * is left to recover after a crash.
 *
 * Never open `agent.lock` in this process by any other means (fs.readFile, a backup walker…): closing any
 * descriptor of a file drops all of the process's fcntl locks on it. SQLite itself guards against this for its
 * own connections.
 */
import { Database } from "bun:sqlite";
import path from "node:path";
import { errorMessage, EXIT, StavilyError } from "../errors.ts";
import type { AgentHome } from "./_paths.ts";
import {
  currentHolder,
  type Holder,
  holderExists,
  holderFile,
  readHolder,
  removeHolder,
  writeHolder,
} from "./_holder.ts";

export interface HomeLock {
  /** The previous holder died without releasing; the caller should log it. */
  readonly takenOver: boolean;
  /** What the previous holder recorded, when it was readable. */
  readonly previous?: Holder;
  /** Gives the home up. Idempotent; also runs on a normal process exit. */
  release(): void;
}

/** Takes the home of `agentId`, or throws a StavilyError (exit code 1) naming the agent that has it. */
export function acquireHomeLock(home: AgentHome, agentId: string): HomeLock {
  if (!path.isAbsolute(home.root)) {
    throw new StavilyError("home", `agent home ${home.root} must be an absolute path to be locked`);
  }
  const db = openExclusive(home, agentId);
  // We hold the lock now, so a record still in place belongs to a holder that never released.
  const takenOver = holderExists(home.root);
  const previous = takenOver ? readHolder(home.root) : undefined;
  try {
    writeHolder(home.root, currentHolder());
  } catch (error) {
    db.close();
    throw new StavilyError("home", `cannot write ${holderFile(home.root)}: ${errorMessage(error)}`, { cause: error });
  }

  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.off("exit", release);
    try {
      // Before closing: once the lock is free the next holder may already have written its own record.
      removeHolder(home.root);
    } catch (error) {
      throw new StavilyError("home", `cannot remove ${holderFile(home.root)}: ${errorMessage(error)}`, {
        cause: error,
      });
    } finally {
      db.close();
    }
  };
  // Besides tidying up on exit, the listener keeps `db` reachable: Bun closes a garbage-collected Database,
  // which would silently free the home if the caller dropped this object.
  process.on("exit", release);
  return { takenOver, previous, release };
}

function openExclusive(home: AgentHome, agentId: string): Database {
  const file = path.join(home.root, "agent.lock");
  let db: Database;
  try {
    db = new Database(file, { create: true });
  } catch (error) {
    throw cannotLock(file, error);
  }
  try {
    // EXCLUSIVE locking mode keeps the lock even if a transaction were ever committed on this connection.
    db.run("PRAGMA locking_mode=EXCLUSIVE");
    db.run("PRAGMA journal_mode=MEMORY");
    db.run("BEGIN EXCLUSIVE");
    return db;
  } catch (error) {
    db.close();
    if (isBusy(error)) throw alreadyRunning(home, agentId, file, error);
    throw cannotLock(file, error);
  }
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("SQLITE_BUSY");
}

function alreadyRunning(home: AgentHome, agentId: string, file: string, cause: unknown): StavilyError {
  // Empty only in the instant between the other agent taking the lock and writing its record.
  const holder = readHolder(home.root);
  const who = holder ? `pid ${holder.pid}, started ${holder.startedAt}` : "pid unknown";
  const details = [`the lock ${file} is freed when that process exits`];
  if (holder) details.unshift(`recorded by host ${holder.hostname} in ${holderFile(home.root)}`);
  return new StavilyError("home", `agent ${agentId} is already running (${who}) with home ${home.root}`, {
    cause,
    exitCode: EXIT.failure,
    details,
  });
}

function cannotLock(file: string, cause: unknown): StavilyError {
  return new StavilyError("home", `cannot lock ${file}: ${errorMessage(cause)}`, {
    cause,
    details: [`${path.basename(file)} holds no data; if it is damaged, remove it while no agent runs`],
  });
}
