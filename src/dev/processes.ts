/**
 * The child processes of `stavily dev`: this same program run again (the compiled binary, or bun on
 * src/cli.ts from source), each with its output in a log file, stopped gracefully then for sure.
 */
import { openSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Subprocess } from "bun";

declare const STAVILY_BUILD_TARGET: string | undefined;

/** The argv prefix that runs `stavily` itself. */
export function selfArgv(): string[] {
  if (typeof STAVILY_BUILD_TARGET === "string") return [process.execPath];
  return [process.execPath, fileURLToPath(new URL("../cli.ts", import.meta.url))];
}

export interface Child {
  name: string;
  proc: Subprocess<"ignore", "pipe" | "ignore", "ignore" | number>;
  logFile: string;
}

export function startChild(name: string, args: string[], options: { cwd: string; env: Record<string, string | undefined>; logFile: string; stdout?: "pipe" }): Child {
  const log = openSync(options.logFile, "a", 0o600);
  const proc = Bun.spawn([...selfArgv(), ...args], {
    cwd: options.cwd,
    env: options.env,
    stdin: "ignore",
    stdout: options.stdout ?? log,
    stderr: log,
    // Its own process group: Ctrl-C reaches only `stavily dev`, which stops the agents before the
    // orchestrator so they can say offline; a signal to the whole group would stop all at once.
    detached: true,
  }) as Child["proc"];
  return { name, proc, logFile: options.logFile };
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: Child, graceMs = 10_000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill("SIGTERM");
  const timer = setTimeout(() => child.proc.kill("SIGKILL"), graceMs);
  await child.proc.exited;
  clearTimeout(timer);
}

/** The first match of `pattern` on a child's stdout, or an error naming its log when it exits first. */
export async function firstLine(child: Child, pattern: RegExp): Promise<RegExpMatchArray> {
  let text = "";
  const stream = child.proc.stdout as ReadableStream<Uint8Array>;
  for await (const chunk of stream) {
    text += new TextDecoder().decode(chunk);
    const match = text.match(pattern);
    if (match) return match;
  }
  throw new Error(`${child.name} exited before it was ready; see ${child.logFile}`);
}
