/**
 * CPU time counters from /proc/stat (Linux), and usage as the busy share of the time between two
 * readings: one small file read, no child process.
 */
import { readFileSync } from "node:fs";

/** Ticks since boot of one line ("cpu" is the total, "cpu0"… the cores). */
export interface Ticks {
  total: number;
  idle: number;
}

/** The cpu lines of /proc/stat; guest time is already counted in user, so it is left out of the total. */
export function parseStat(text: string): Map<string, Ticks> {
  const lines = new Map<string, Ticks>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("cpu")) continue;
    const [name, ...fields] = line.trim().split(/\s+/);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields.map(Number);
    lines.set(name === "cpu" ? "total" : (name as string), { total: user + nice + system + idle + iowait + irq + softirq + steal, idle: idle + iowait });
  }
  return lines;
}

export function readStat(path = "/proc/stat"): Map<string, Ticks> {
  return parseStat(readFileSync(path, "utf8"));
}

/** Percent busy between two readings; null when no tick passed (two detects within 10 ms). */
export function usage(before: Ticks, after: Ticks): number | null {
  const total = after.total - before.total;
  if (total <= 0) return null;
  return Math.min(100, Math.max(0, ((total - (after.idle - before.idle)) / total) * 100));
}
