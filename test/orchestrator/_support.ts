/** Starts the orchestrator as a real process and reads the URL from its one stdout line. */
import type { Subprocess } from "bun";
import { join } from "node:path";
import { cleanEnv } from "../support/cli.ts";

const script = join(import.meta.dir, "_run.ts");

export interface Running {
  url: string;
  line: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Sends SIGTERM and resolves with the exit code and everything written to stderr. */
  stop(): Promise<{ code: number; stderr: string }>;
}

export function runOrchestrator(flags: Record<string, unknown>, cwd: string) {
  return Bun.spawn([process.execPath, script, JSON.stringify(flags)], {
    cwd,
    env: cleanEnv(),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
    killSignal: "SIGKILL",
  });
}

export async function startOrchestrator(flags: Record<string, unknown>, cwd: string): Promise<Running> {
  const proc = runOrchestrator(flags, cwd);
  const stderr = new Response(proc.stderr).text();
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const chunk = await reader.read();
    if (chunk.done) throw new Error(`the orchestrator exited before listening: ${await stderr}`);
    text += new TextDecoder().decode(chunk.value);
  }
  reader.releaseLock();
  const line = text.split("\n")[0]!;
  const url = /listening on (\S+)/.exec(line)?.[1];
  if (!url) throw new Error(`unexpected first line: ${line}`);
  return {
    url,
    line,
    proc,
    async stop() {
      proc.kill("SIGTERM");
      return { code: await proc.exited, stderr: await stderr };
    },
  };
}
