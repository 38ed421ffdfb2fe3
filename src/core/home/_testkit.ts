/**
 * Test support for the home lock: real agent processes that take a home and report over stdout, one JSON
 * object a line. Waiting is always on a line with a deadline, never on a sleep.
 */
import fs from "node:fs";
import path from "node:path";
import type { Subprocess } from "bun";

/** What the holder script prints: `locked`, `refused`, `released` or `collected`, with details. */
export type Report = Record<string, unknown> & { event: string };

export interface TestAgent {
  readonly pid: number;
  readonly proc: Subprocess<"pipe", "pipe", "pipe">;
  /** The next report, or a rejection naming the agent's stderr when it exits or misses the deadline. */
  next(timeoutMs?: number): Promise<Report>;
  send(command: string): void;
}

const HOLDER = (moduleUrl: string) => `
import { acquireHomeLock, prepareAgentHome } from ${JSON.stringify(moduleUrl)};
const [baseDir, agentId, mode] = process.argv.slice(2);
const say = (report) => console.log(JSON.stringify(report));
let lock;
try {
  lock = acquireHomeLock(prepareAgentHome(baseDir, agentId), agentId);
  if (mode === "drop") {
    // Let go of every reference, as a careless caller would, and collect.
    say({ event: "locked", pid: process.pid, takenOver: lock.takenOver });
    lock = undefined;
    Bun.gc(true);
    say({ event: "collected" });
    for await (const _ of console);
    process.exit(0);
  }
} catch (error) {
  say({ event: "refused", message: error.message, component: error.component, exitCode: error.exitCode });
  process.exit(0);
}
say({ event: "locked", pid: process.pid, takenOver: lock.takenOver, previous: lock.previous ?? null });
if (mode === "once") process.exit(0);
for await (const line of console) {
  if (line === "release") { lock.release(); say({ event: "released" }); }
}
`;

/** Writes the holder script into `dir`; it imports this module's index by absolute path. */
export function writeHolderScript(dir: string): string {
  const script = path.join(dir, "holder.ts");
  fs.writeFileSync(script, HOLDER(path.join(import.meta.dir, "index.ts")));
  return script;
}

/**
 * Starts an agent that takes the home of `agentId`. `hold` keeps it until told `release` or until its stdin
 * closes; `once` exits (normally) right after reporting; `drop` forgets the lock, runs the garbage collector,
 * reports `collected` and idles.
 */
export function startAgent(
  script: string,
  baseDir: string,
  agentId: string,
  mode: "hold" | "once" | "drop",
): TestAgent {
  const proc = Bun.spawn([process.execPath, script, baseDir, agentId, mode], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let buffer = "";

  async function next(timeoutMs = 15_000): Promise<Report> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const newline = buffer.indexOf("\n");
      if (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        return JSON.parse(line) as Report;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), Math.max(0, deadline - Date.now()));
      });
      const chunk = await Promise.race([reader.read(), timeout]).finally(() => clearTimeout(timer));
      if (chunk === "timeout" || chunk.done) {
        proc.kill(9);
        const stderr = await new Response(proc.stderr).text();
        const why = chunk === "timeout" ? `no report within ${timeoutMs} ms` : "exited before reporting";
        throw new Error(`agent ${agentId} (pid ${proc.pid}) ${why}; stderr: ${stderr}`);
      }
      buffer += decoder.decode(chunk.value, { stream: true });
    }
  }

  function send(command: string): void {
    proc.stdin.write(`${command}\n`);
    proc.stdin.flush();
  }

  return { pid: proc.pid, proc, next, send };
}

/** Runs an agent in `once` mode and returns its single report after it has exited. */
export async function tryAgent(script: string, baseDir: string, agentId: string): Promise<Report> {
  const agent = startAgent(script, baseDir, agentId, "once");
  const report = await agent.next();
  await agent.proc.exited;
  return report;
}
