/** Runs a helper command (git, the bundler) with a deadline and a scrubbed environment; the one spawn seam here. */
import { StavilyError } from "../../errors.ts";

export interface RunOptions {
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  /** What the command is doing, for messages: "git clone of https://…". */
  what: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Resolves with the output when the command exits 0; otherwise throws a StavilyError with its stderr. */
export async function run(cmd: string[], options: RunOptions): Promise<RunResult> {
  let proc: ReturnType<typeof spawn>;
  try {
    proc = spawn(cmd, options);
  } catch (error) {
    throw new StavilyError("plugin", `${options.what} could not start: ${(error as Error).message}`, { cause: error });
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(proc.pid);
  }, options.timeoutMs);
  try {
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    if (timedOut) throw new StavilyError("plugin", `${options.what} did not finish within ${options.timeoutMs} ms`);
    if (code !== 0) {
      throw new StavilyError("plugin", `${options.what} failed (exit ${code}): ${lastLines(stderr || stdout)}`);
    }
    return { stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

function spawn(cmd: string[], options: RunOptions) {
  // Its own process group, so the deadline also ends what it started (git-remote-https, upload-pack), which would
  // otherwise keep the output pipes open.
  return Bun.spawn(cmd, {
    cwd: options.cwd,
    env: options.env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
  });
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // Already gone: nothing left to stop.
  }
}

function lastLines(text: string): string {
  return text.trim().split("\n").slice(-6).join(" | ").slice(0, 2000);
}

/** The variables every helper may see; the agent's own (API keys, tokens) are not passed on. */
export function baseEnv(home: string): Record<string, string> {
  const env: Record<string, string> = { HOME: home, PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C" };
  // Proxies and CA bundles, so https keeps working on hosts that need them; nothing that authenticates.
  const passed = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO", "TMPDIR"];
  for (const key of passed) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}
