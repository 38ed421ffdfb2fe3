/**
 * Where an agent keeps its files. Pure path arithmetic: nothing here touches the disk, so the layout can be
 * shown (e.g. by `stavily config`) without creating anything.
 */
import os from "node:os";
import path from "node:path";
import { usageError } from "../errors.ts";

/** The directories of one agent, all absolute. */
export interface AgentHome {
  /** `<base_dir>/agent-<id>`: everything the agent writes lives below it. */
  root: string;
  /** Configuration and secrets (0700). */
  config: string;
  /** Per-plugin configuration: `config/plugins`. */
  plugins: string;
  /** Client certificates and keys (0700). */
  certificates: string;
  /** Durable state: spool, journal, installed plugins (0700). */
  data: string;
  /** Installed plugin code: `data/plugins`. */
  dataPlugins: string;
  /** Downloads and anything that can be rebuilt. */
  cache: string;
  /** The agent's own state, e.g. cursors and outboxes (0700). */
  state: string;
  logs: string;
  /** One log per plugin: `logs/plugins`. */
  pluginLogs: string;
  auditLogs: string;
  tmp: string;
  /** Scratch directory handed to actions: `tmp/workdir`. */
  workdir: string;
}

/**
 * The base directory when none is configured: system-wide for root and Windows services, per user otherwise,
 * so an agent started by hand never needs privileges. `uid` is injectable for tests.
 */
export function defaultBaseDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  uid: number | undefined = process.getuid?.(),
): string {
  if (platform === "win32") return path.win32.join(env.PROGRAMDATA || "C:\\ProgramData", "Stavily");
  if (uid === 0) return "/var/lib/stavily";
  // Services started with User= may have no HOME; os.homedir() then asks the password database.
  return path.posix.join(env.HOME || os.homedir(), ".stavily");
}

/**
 * The home of `agentId` under `baseDir`, resolved to absolute paths (bun:sqlite and services started from `/`
 * need them). Ids are validated by the config schema; the check here only guarantees that no id, valid or not,
 * can point outside `baseDir`.
 */
export function agentHomePaths(baseDir: string, agentId: string): AgentHome {
  const base = path.resolve(baseDir);
  const name = `agent-${agentId}`;
  const root = path.resolve(base, name);
  if (path.dirname(root) !== base || path.basename(root) !== name) {
    throw usageError("home", `agent id ${JSON.stringify(agentId)} would place its home outside ${base}`);
  }
  const config = path.join(root, "config");
  const data = path.join(root, "data");
  const logs = path.join(root, "logs");
  const tmp = path.join(root, "tmp");
  return {
    root,
    config,
    plugins: path.join(config, "plugins"),
    certificates: path.join(config, "certificates"),
    data,
    dataPlugins: path.join(data, "plugins"),
    cache: path.join(data, "cache"),
    state: path.join(data, "state"),
    logs,
    pluginLogs: path.join(logs, "plugins"),
    auditLogs: path.join(logs, "audit"),
    tmp,
    workdir: path.join(tmp, "workdir"),
  };
}
