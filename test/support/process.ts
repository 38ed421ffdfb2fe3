/**
 * Long-running test processes (orchestrator, agents): started with a clean environment, their
 * output collected, waited on by content with a deadline, and always killed at the end.
 */
import type { Subprocess } from "bun";
import { readFileSync } from "node:fs";
import { cleanEnv } from "./cli.ts";

export interface TestProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Everything written so far to stdout and stderr. */
  output(): string;
  /** Resolves with the first match of `pattern` in the output; rejects at the deadline or on exit. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  kill(signal?: NodeJS.Signals | number): void;
  exited: Promise<number>;
}

const running = new Set<TestProcess>();

export function startProcess(command: string[], options: { env?: Record<string, string>; cwd?: string } = {}): TestProcess {
  const proc = Bun.spawn(command, { cwd: options.cwd, env: cleanEnv(options.env), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let text = "";
  const listeners = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      for (const listener of listeners) listener();
    }
  };
  void pump(proc.stdout);
  void pump(proc.stderr);
  const exited = proc.exited.then((code) => {
    running.delete(handle);
    for (const listener of listeners) listener();
    return code;
  });
  const handle: TestProcess = {
    proc,
    output: () => text,
    exited,
    kill: (signal = "SIGKILL") => proc.kill(signal),
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = text.match(pattern);
          if (match) return finish(() => resolve(match));
          if (proc.exitCode !== null || proc.signalCode !== null) {
            finish(() => reject(new Error(`process exited (${proc.exitCode ?? proc.signalCode}) before ${pattern}; output:\n${text}`)));
          }
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${text}`))), timeoutMs);
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
  };
  running.add(handle);
  return handle;
}

/** Kills every process a test file started and did not stop itself. */
export async function killAll(): Promise<void> {
  for (const handle of running) handle.kill("SIGKILL");
  await Promise.allSettled([...running].map((handle) => handle.exited));
}

/** Polls `probe` until it returns a value other than undefined, or fails at the deadline. */
export async function waitUntil<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await Bun.sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError}` : ""}`);
}

/** A free port on 127.0.0.1, for a server that must come back at the same address. */
export function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/** Whether a pid is gone (or a zombie nobody has reaped yet: it runs no more code either). Linux /proc. */
export function isGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

/** Whether `pid` is gone within `ms` (no event announces a process's end to a non-parent). */
export async function goneWithin(pid: number, ms: number): Promise<boolean> {
  // A pid read from garbage (NaN, 0) has no /proc entry and would look gone.
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`goneWithin: not a pid: ${pid}`);
  for (const deadline = Date.now() + ms; !isGone(pid); await Bun.sleep(20)) if (Date.now() > deadline) return false;
  return true;
}
