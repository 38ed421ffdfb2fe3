/**
 * The machine as the plugins scenario checks it: the agent's memory, the plugin processes it started,
 * how often each instruction ran, and the processes left behind.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { waitUntil } from "../../support/process.ts";
import { processes, type ProcessEntry } from "../_flows.ts";

export const pidsWith = (text: string) => processes().filter((p) => p.cmdline.includes(text)).map((p) => p.pid);

export function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

export function rssMiB(pid: number): number {
  const kib = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  return Math.round(kib / 1024);
}

/** Every plugin process the agent started, from its plugin logs ("started pid N"): each led a process group. */
export function pluginPids(home: string): number[] {
  const logs = join(home, "logs", "plugins");
  if (!existsSync(logs)) return [];
  const pids: number[] = [];
  for (const file of readdirSync(logs)) {
    for (const match of readFileSync(join(logs, file), "utf8").matchAll(/started pid (\d+)/g)) pids.push(Number(match[1]));
  }
  return pids;
}

/** How often each instruction ran, from the `runs.log` each plugin instance appends to in its work dir. */
export function runsOf(home: string): string[] {
  const runs: string[] = [];
  const walk = (path: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name === "runs.log") runs.push(...readFileSync(full, "utf8").split("\n").filter(Boolean));
    }
  };
  walk(home);
  return runs;
}

/**
 * Processes left alive: the fork-storm children of a level (by its marker) and, once an agent has
 * stopped, anything in the process group of a plugin process it started.
 */
export function leftovers(marker: string | undefined, home?: string): ProcessEntry[] {
  const groups = new Set(home ? pluginPids(home) : []);
  return processes().filter((p) => (marker !== undefined && p.cmdline.includes(marker)) || groups.has(p.pgid));
}

export const describeProcesses = (list: ProcessEntry[]) => list.map((p) => `${p.pid} (group ${p.pgid}) ${p.cmdline.slice(0, 120)}`).join("; ");

/** Waits up to 10 s for no process of `leftovers(marker, home)` to be left; returns those still alive then. */
export async function leftAfterWaiting(marker: string | undefined, home?: string): Promise<ProcessEntry[]> {
  let alive: ProcessEntry[] = [];
  await waitUntil(() => ((alive = leftovers(marker, home)).length === 0 ? true : undefined), "no process left behind", 10_000).catch(() => undefined);
  return alive;
}
