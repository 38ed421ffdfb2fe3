/**
 * How scripts/bench.ts measures a command: wall time of whole runs (hyperfine when installed, else a
 * spawn loop) and peak resident memory. MB means 10^6 bytes everywhere, like binary sizes.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface RunOptions {
  /** Measured runs after the warm-up ones. */
  runs: number;
  warmup: number;
  cwd: string;
  env?: Record<string, string | undefined>;
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export function summarize(samples: number[]): Summary {
  if (samples.length === 0) throw new Error("measure: no samples");
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)!, runs: sorted.length };
}

/** Milliseconds per run of argv, which must exit 0. */
export async function wallTimesMs(argv: string[], options: RunOptions): Promise<number[]> {
  return Bun.which("hyperfine") ? hyperfine(argv, options) : spawnLoop(argv, options);
}

/** Which tool timed the runs, for the report. */
export function timer(): string {
  return Bun.which("hyperfine") ? "hyperfine -N" : "Bun.spawnSync loop";
}

async function hyperfine(argv: string[], options: RunOptions): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), "stavily-hyperfine-"));
  try {
    const json = join(dir, "times.json");
    // -N: no shell in between, so the figure is the binary's own start-up.
    const command = ["hyperfine", "-N", "--style", "none", "--warmup", String(options.warmup), "--runs", String(options.runs)];
    const result = Bun.spawnSync([...command, "--export-json", json, argv.map(shellQuote).join(" ")], {
      cwd: options.cwd,
      env: options.env,
      stdout: "ignore",
      stderr: "pipe",
    });
    if (!result.success) throw new Error(`measure: hyperfine ${argv.join(" ")} failed: ${result.stderr.toString().trim()}`);
    const report = (await Bun.file(json).json()) as { results: Array<{ times: number[] }> };
    return report.results[0]!.times.map((seconds) => seconds * 1000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function spawnLoop(argv: string[], options: RunOptions): number[] {
  const times: number[] = [];
  for (let run = 0; run < options.warmup + options.runs; run++) {
    const started = performance.now();
    const result = Bun.spawnSync(argv, { cwd: options.cwd, env: options.env, stdout: "ignore", stderr: "pipe" });
    const elapsed = performance.now() - started;
    if (!result.success) throw new Error(`measure: ${argv.join(" ")} exited ${result.exitCode}: ${result.stderr.toString().trim()}`);
    if (run >= options.warmup) times.push(elapsed);
  }
  return times;
}

/** Peak RSS in MB per run. GNU time when present; else wait4's figure, which Bun reports exactly. */
export function peakRssMb(argv: string[], options: RunOptions): number[] {
  const gnuTime = "/usr/bin/time";
  const useTime = hasGnuTime(gnuTime);
  const samples: number[] = [];
  for (let run = 0; run < options.warmup + options.runs; run++) {
    const command = useTime ? [gnuTime, "-v", ...argv] : argv;
    const result = Bun.spawnSync(command, { cwd: options.cwd, env: options.env, stdout: "ignore", stderr: "pipe" });
    const stderr = result.stderr.toString();
    if (!result.success) throw new Error(`measure: ${argv.join(" ")} exited ${result.exitCode}: ${stderr.trim()}`);
    const bytes = useTime ? gnuTimeKbytes(stderr) * 1024 : result.resourceUsage.maxRSS;
    if (run >= options.warmup) samples.push(bytes / 1e6);
  }
  return samples;
}

/** BSD time (macOS) has no -v; a missing one makes spawnSync throw. */
function hasGnuTime(path: string): boolean {
  try {
    return Bun.spawnSync([path, "-v", "true"], { stdout: "ignore", stderr: "ignore" }).success;
  } catch {
    return false;
  }
}

function gnuTimeKbytes(stderr: string): number {
  const match = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  if (!match) throw new Error(`measure: no "Maximum resident set size" in /usr/bin/time output`);
  return Number(match[1]);
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'"'"'`)}'`;
}
