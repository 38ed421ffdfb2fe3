/**
 * `ctx.exec`: runs only executables listed in permissions.exec, in a process group of its own so a
 * timeout or abort kills everything it started, with stdout and stderr capped.
 */
import { isAbsolute } from "node:path";
import type { ExecOptions, ExecResult } from "../../../../sdk/types.ts";
import { AGENT_HOME_ENV, type PluginLaunch } from "../../types.ts";
import { badRequest, permissionDenied } from "./_denied.ts";

export const EXEC_DEFAULTS = { timeoutMs: 30_000, maxOutputBytes: 1024 * 1024 };

export type PluginExec = (argv: string[], options?: ExecOptions, signal?: AbortSignal) => Promise<ExecResult>;

/**
 * `onChild` hears of each child when it starts and when it ends: the host kills the groups still
 * running when the instance ends, however it ends (a plugin that exits or is killed never aborts them).
 */
export function createPluginExec(launch: PluginLaunch, basePath: string, onChild?: (pid: number, running: boolean) => void): PluginExec {
  const allowed = launch.permissions.exec;
  const marker: Record<string, string> = launch.agentHome ? { [AGENT_HOME_ENV]: launch.agentHome } : {};
  const which = (name: string) => Bun.which(name, { PATH: basePath }) ?? undefined;

  /** An absolute path that is either listed itself or what a listed name resolves to. */
  function resolveExecutable(command: string): string {
    if (isAbsolute(command)) {
      if (allowed.includes(command) || allowed.some((entry) => !isAbsolute(entry) && which(entry) === command)) return command;
    } else if (!command.includes("/") && allowed.includes(command)) {
      const path = which(command);
      if (path) return path;
      throw badRequest(`exec: ${command} not found on PATH`);
    }
    throw permissionDenied(`exec ${command}: not in permissions.exec (${allowed.length ? allowed.join(", ") : "none granted"})`);
  }

  return async (argv, options = {}, signal) => {
    if (!Array.isArray(argv) || argv.length === 0 || argv.some((arg) => typeof arg !== "string")) {
      throw badRequest("exec: argv must be a non-empty list of strings");
    }
    const opts = { ...EXEC_DEFAULTS, ...options };
    const executable = resolveExecutable(argv[0] as string);
    signal?.throwIfAborted();
    const started = performance.now();
    const proc = Bun.spawn({
      cmd: [executable, ...argv.slice(1)],
      cwd: opts.cwd ?? launch.workDir,
      // The marker last: a plugin cannot hide a child from the next start's reaper (reap.ts).
      env: { PATH: basePath, ...launch.env, ...opts.env, ...marker },
      stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]),
      stdout: "pipe",
      stderr: "pipe",
      // setsid(): the child leads a new process group, so killing -pid reaches its children too.
      detached: true,
    });
    onChild?.(proc.pid, true);
    let timedOut = false;
    let aborted = false;
    const stdout = readCapped(proc.stdout, opts.maxOutputBytes);
    const stderr = readCapped(proc.stderr, opts.maxOutputBytes);
    const kill = () => {
      killGroup(proc);
      // A grandchild that left the group may still hold the pipes open: stop reading them.
      stdout.cancel();
      stderr.cancel();
    };
    const onTimeout = () => {
      timedOut = true;
      kill();
    };
    const onAbort = () => {
      aborted = true;
      kill();
    };
    const timer = setTimeout(onTimeout, opts.timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const [exitCode, out, err] = await Promise.all([proc.exited, stdout.done, stderr.done]);
      return {
        exitCode: proc.signalCode ? null : exitCode,
        signal: proc.signalCode === null || proc.signalCode === undefined ? null : String(proc.signalCode),
        stdout: out.text,
        stderr: err.text,
        truncated: out.truncated || err.truncated,
        timedOut,
        aborted,
        durationMs: Math.round(performance.now() - started),
      };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      onChild?.(proc.pid, false);
    }
  };
}

/** SIGKILL to the groups of ctx.exec children an instance left running when it ended; one already gone is no error. */
export function killExecGroups(groups: Set<number>): void {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // gone already, or no process groups here (Windows)
    }
  }
  groups.clear();
}

function killGroup(proc: { pid: number; kill(signal?: number | NodeJS.Signals): void }) {
  try {
    process.kill(-proc.pid, "SIGKILL");
  } catch {
    try {
      proc.kill("SIGKILL"); // no process groups (Windows), or the group is gone already
    } catch {
      // already exited
    }
  }
}

/** Reads a stream to its end, keeping the first `max` bytes. */
function readCapped(stream: ReadableStream<Uint8Array>, max: number) {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let truncated = false;
  const done = (async () => {
    try {
      for (;;) {
        const { done: finished, value } = await reader.read();
        if (finished) break;
        const room = max - kept;
        if (value.length > room) truncated = true;
        if (room > 0) {
          const part = value.subarray(0, room);
          chunks.push(part);
          kept += part.length;
        }
      }
    } catch {
      // cancelled after a kill
    }
    return { text: new TextDecoder().decode(concat(chunks, kept)), truncated };
  })();
  return { done, cancel: () => void reader.cancel().catch(() => {}) };
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(size));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
