/**
 * Creates an agent home on first run and repairs its permissions on every later one.
 */
import fs from "node:fs";
import path from "node:path";
import { errorMessage, StavilyError } from "../errors.ts";
import { type AgentHome, agentHomePaths } from "./_paths.ts";

/** Only the owner may enter directories holding secrets or state. */
const PRIVATE = 0o700;
/** The agent's group (e.g. a log shipper) may read logs, plugin code and scratch files. */
const SHARED = 0o750;

/** Parents before children, so each mkdir is non-recursive and its mode is the one we chose. */
const LAYOUT: ReadonlyArray<readonly [keyof AgentHome, number]> = [
  ["root", PRIVATE],
  ["config", PRIVATE],
  ["plugins", SHARED],
  ["certificates", PRIVATE],
  ["data", PRIVATE],
  ["dataPlugins", SHARED],
  ["cache", SHARED],
  ["state", PRIVATE],
  ["logs", SHARED],
  ["pluginLogs", SHARED],
  ["auditLogs", SHARED],
  ["tmp", SHARED],
  ["workdir", SHARED],
];

/**
 * The home of `agentId`, created if missing. Idempotent: running it on every start is how permissions loosened
 * by hand get tightened again. Throws a StavilyError naming the directory and the OS reason.
 */
export function prepareAgentHome(baseDir: string, agentId: string): AgentHome {
  const home = agentHomePaths(baseDir, agentId);
  // Windows has no mode bits; the ACLs of %ProgramData% are the installer's business.
  const posix = process.platform !== "win32";
  const base = path.dirname(home.root);
  attempt(base, () => fs.mkdirSync(base, { recursive: true, mode: 0o755 }));
  for (const [key, mode] of LAYOUT) ensureDir(home[key], mode, posix);
  return home;
}

function ensureDir(dir: string, required: number, posix: boolean): void {
  const created = attempt(dir, () => {
    try {
      fs.mkdirSync(dir, { mode: required });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    }
  });
  const stat = attempt(dir, () => fs.statSync(dir));
  if (!stat.isDirectory()) {
    throw new StavilyError("home", `cannot use ${dir} as an agent home directory: it exists and is not a directory`);
  }
  if (!posix) return;
  const current = stat.mode & 0o777;
  // A new directory gets exactly the required mode: mkdir's mode was filtered by the umask, which may be looser
  // or stricter than we want. An existing one is only tightened (and kept usable by its owner), so an operator
  // who made logs private keeps them private.
  const wanted = created ? required : (current & required) | 0o700;
  if (created || wanted !== current) attempt(dir, () => fs.chmodSync(dir, wanted));
}

function attempt<T>(dir: string, action: () => T): T {
  try {
    return action();
  } catch (error) {
    throw new StavilyError("home", `cannot prepare agent home directory ${dir}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
}
