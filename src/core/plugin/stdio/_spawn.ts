/**
 * The one place the stdio runtime touches the machine: finding interpreters, building the child's
 * environment and command line, spawning it in its own process group, and signalling that group.
 */
import fs from "node:fs";
import path from "node:path";
import { AGENT_HOME_ENV, type PluginLaunch, type PluginRuntimeType } from "../types.ts";

export type StdioRuntime = Exclude<PluginRuntimeType, "bun">;

/** Variables of the agent's environment a plugin may see; everything else (tokens, keys, proxies' credentials) stays out. */
const INHERITED = ["PATH", "HOME", "LANG", "LC_ALL"] as const;

/** The host's own namespace: a plugin's declared env cannot set these (nor smuggle the agent's token in). */
const RESERVED_PREFIX = "STAVILY_";

export interface ChildEnv {
  env: Record<string, string>;
  /** Keys of `launch.env` ignored because the host owns them. */
  ignored: string[];
}

export function buildChildEnv(launch: PluginLaunch, parent: Record<string, string | undefined> = process.env): ChildEnv {
  const env: Record<string, string> = {};
  for (const key of INHERITED) {
    const value = parent[key];
    if (value !== undefined) env[key] = value;
  }
  const ignored: string[] = [];
  for (const [key, value] of Object.entries(launch.env ?? {})) {
    if (key.toUpperCase().startsWith(RESERVED_PREFIX)) ignored.push(key);
    else env[key] = value;
  }
  // Secrets the operator granted this plugin: existing stdio plugins read them from the environment.
  for (const [key, value] of Object.entries(launch.secrets ?? {})) {
    if (!key.toUpperCase().startsWith(RESERVED_PREFIX)) env[key] = value;
  }
  Object.assign(env, {
    STAVILY_PLUGIN_ID: launch.id,
    STAVILY_PLUGIN_INSTANCE: launch.instance,
    STAVILY_PLUGIN_KIND: launch.kind,
    STAVILY_PLUGIN_DIR: launch.dir,
    STAVILY_AGENT_ID: launch.agent.id,
    STAVILY_AGENT_TYPE: launch.agent.type,
    STAVILY_AGENT_NAME: launch.agent.name,
    STAVILY_ENVIRONMENT: launch.agent.environment,
    STAVILY_WORK_DIR: launch.workDir,
    STAVILY_STATE_DIR: launch.stateDir,
    STAVILY_LOG_FILE: launch.logFile,
  });
  if (launch.agentHome) env[AGENT_HOME_ENV] = launch.agentHome;
  return { env, ignored };
}

/**
 * How to find the real binary behind a name on PATH. Version managers (pyenv, asdf, nvm) put shell-script
 * shims first on PATH that cost ~70 ms per start, so python and node name their own binary once.
 */
const PROBES: Record<Exclude<StdioRuntime, "executable">, { name: string; args: string[] | null }> = {
  python: { name: "python3", args: ["-c", "import sys; print(sys.executable)"] },
  node: { name: "node", args: ["-p", "process.execPath"] },
  bash: { name: "bash", args: null },
};

const resolved = new Map<string, Promise<string>>();

/** The absolute path of a runtime's interpreter, resolved once per PATH; a failed resolution is retried next time. */
export function resolveInterpreter(runtime: Exclude<StdioRuntime, "executable">, searchPath: string, timeoutMs: number): Promise<string> {
  const key = `${runtime}\0${searchPath}`;
  let found = resolved.get(key);
  if (!found) {
    found = probe(runtime, searchPath, timeoutMs);
    resolved.set(key, found);
    found.catch(() => resolved.delete(key));
  }
  return found;
}

async function probe(runtime: Exclude<StdioRuntime, "executable">, searchPath: string, timeoutMs: number): Promise<string> {
  const { name, args } = PROBES[runtime];
  const onPath = Bun.which(name, { PATH: searchPath });
  if (!onPath) throw new Error(`${name} not found on PATH`);
  if (!args) return fs.realpathSync(onPath);
  const child = Bun.spawn([onPath, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { PATH: searchPath } });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    if (child.signalCode) throw new Error(`${onPath} did not name its binary within ${timeoutMs} ms`);
    const binary = out.trim();
    if (code !== 0 || !path.isAbsolute(binary)) throw new Error(`${onPath} ${args.join(" ")} failed (${code}): ${err.trim() || out.trim()}`);
    return fs.realpathSync(binary);
  } finally {
    clearTimeout(timer);
  }
}

let prlimitPath: string | null | undefined;

/** `prlimit` (util-linux) on Linux, resolved once; null elsewhere or when missing. */
export function findPrlimit(): string | null {
  if (process.platform !== "linux") return null;
  if (prlimitPath === undefined) {
    const found = Bun.which("prlimit", { PATH: `${process.env.PATH ?? ""}:/usr/bin:/bin:/usr/sbin:/sbin` });
    prlimitPath = found ? fs.realpathSync(found) : null;
  }
  return prlimitPath;
}

/**
 * How a caller (the sandbox) starts the child instead of `<interpreter> <entry>`. Every field is optional;
 * without one the child is started as for any stdio plugin.
 */
export interface StdioCommand {
  /** Program and arguments instead of the runtime's interpreter and entry: the re-executed plugin host. */
  main?: string[];
  /** Wraps the command in a launcher (bwrap); prlimit stays outermost, so the limit covers both. */
  wrap?: (main: string[]) => string[];
  /** Set in (or, as undefined, removed from) the scrubbed environment after it is built: HOME inside a sandbox. */
  env?: Record<string, string | undefined>;
  /** RLIMIT_DATA bytes instead of `launch.limits.memory` (the Bun plugin host adds its runtime's reservation). */
  dataLimit?: number;
  /** The child speaks the protocol extensions (README): launch in initialize, deadlines, send, pushed events. */
  extended?: boolean;
}

/**
 * The child's argv. Memory: `prlimit --data` (RLIMIT_DATA: heap, and since Linux 4.7 every private writable
 * mapping, so large mallocs via mmap count too). A Python allocation loop gets MemoryError at the limit and,
 * unless it catches it, exits. `--as` (address space) would stop it as well but also counts reservations
 * that are never touched: node/V8 reserves gigabytes of address space at start and dies under `--as`
 * at any useful limit. The limit is per process (inherited by children), not for the group as a whole.
 */
export function buildArgv(launch: PluginLaunch, interpreter: string | null, prlimit: string | null, command: StdioCommand = {}): string[] {
  const main =
    command.main ?? (interpreter === null ? [launch.entry] : launch.runtime === "python" ? [interpreter, "-u", launch.entry] : [interpreter, launch.entry]);
  const wrapped = command.wrap ? command.wrap(main) : main;
  const limit = command.dataLimit ?? launch.limits.memory;
  if (limit > 0 && prlimit) return [prlimit, `--data=${Math.floor(limit)}`, "--", ...wrapped];
  return wrapped;
}

export interface Child {
  pid: number;
  stdin: { write(text: string): void; end(): void };
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  /** Resolves when the direct child has exited. */
  exited: Promise<{ code: number | null; signal: string | null }>;
  /**
   * Signals the whole process group (the child and everything it started that stayed in the group).
   * Never throws: a group already gone is success; any other failure is returned for the log.
   */
  signalGroup(signal: NodeJS.Signals): Error | undefined;
}

export function spawnChild(argv: string[], cwd: string, env: Record<string, string>): Child {
  // detached: a process group of its own, so a kill reaches the grandchildren too.
  const proc = Bun.spawn(argv, { cwd, env, stdin: "pipe", stdout: "pipe", stderr: "pipe", detached: true });
  const exited = proc.exited.then(() => {
    const signal = proc.signalCode;
    return { code: proc.exitCode, signal: signal === null || signal === undefined ? null : String(signal) };
  });
  return {
    pid: proc.pid,
    stdin: {
      write(text) {
        proc.stdin.write(text);
        const flushed = proc.stdin.flush();
        // A child that has died refuses the write; its exit is reported by `exited`, not here.
        if (flushed instanceof Promise) flushed.catch(() => {});
      },
      end() {
        const ended = proc.stdin.end();
        if (ended instanceof Promise) ended.catch(() => {});
      },
    },
    stdout: proc.stdout,
    stderr: proc.stderr,
    exited,
    signalGroup(signal) {
      try {
        if (process.platform === "win32") proc.kill(signal);
        else process.kill(-proc.pid, signal);
      } catch (error) {
        // ESRCH: the group is already gone, which is what was asked.
        if ((error as NodeJS.ErrnoException).code !== "ESRCH") return error as Error;
      }
      return undefined;
    },
  };
}
