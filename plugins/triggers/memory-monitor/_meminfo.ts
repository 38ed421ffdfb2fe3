/** RAM and swap use from /proc/meminfo (Linux): one small file read, no child process. */
import { readFileSync } from "node:fs";

/** Bytes. */
export interface Memory {
  total: number;
  available: number;
  swapTotal: number;
  swapFree: number;
}

export function parseMeminfo(text: string): Memory {
  const kib = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^(\w+(?:\(\w+\))?):\s+(\d+)/.exec(line);
    if (match) kib.set(match[1] as string, Number(match[2]));
  }
  const get = (name: string) => (kib.get(name) ?? 0) * 1024;
  if (!kib.has("MemTotal")) throw new Error("memory-monitor: /proc/meminfo has no MemTotal");
  // MemAvailable appeared in Linux 3.14; before it, free + buffers + page cache is the usual estimate.
  const available = kib.has("MemAvailable") ? get("MemAvailable") : get("MemFree") + get("Buffers") + get("Cached");
  return { total: get("MemTotal"), available, swapTotal: get("SwapTotal"), swapFree: get("SwapFree") };
}

export function readMeminfo(path = "/proc/meminfo"): Memory {
  return parseMeminfo(readFileSync(path, "utf8"));
}
