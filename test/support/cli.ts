/** Runs the CLI from source as a real process, with a clean environment and a deadline. */
import { join } from "node:path";

export const repoRoot = join(import.meta.dir, "..", "..");
export const cliEntry = join(repoRoot, "src", "cli.ts");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
  /** Run this executable instead of `bun src/cli.ts` (the compiled binary). */
  binary?: string;
}

/** Only what a process needs to run; the developer's own STAVILY_* variables never leak in. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const base: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1" };
  if (process.env.HOME) base.HOME = process.env.HOME;
  if (process.env.TMPDIR) base.TMPDIR = process.env.TMPDIR;
  return { ...base, ...extra };
}

export async function runCli(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const command = options.binary ? [options.binary, ...args] : [process.execPath, cliEntry, ...args];
  const proc = Bun.spawn(command, {
    cwd: options.cwd ?? repoRoot,
    env: cleanEnv(options.env),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: options.timeoutMs ?? 30_000,
    killSignal: "SIGKILL",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}
