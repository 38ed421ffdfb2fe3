/**
 * Processes from /proc (Linux): one directory listing and one small read per process to match it,
 * then two more per matching process. No child process (no ps, no pgrep).
 */
import { readdirSync, readFileSync } from "node:fs";

/** The kernel keeps the first 15 bytes of a process's name (TASK_COMM_LEN − 1). */
export const COMM_MAX = 15;

export interface Match {
  pid: number;
  /** comm, as ps -o comm shows it. */
  name: string;
  /** Arguments joined by spaces; empty for kernel threads. */
  command: string;
}

export interface Usage {
  /** State letter (R, S, D, Z, …), parent, user + system CPU ticks, start time in ticks since boot. */
  state: string;
  ppid: number;
  ticks: number;
  start: number;
}

/** Process ids now running, read from /proc's directory listing. */
export function pids(proc = "/proc"): number[] {
  const found: number[] = [];
  for (const entry of readdirSync(proc)) {
    const code = entry.charCodeAt(0);
    if (code >= 48 && code <= 57) found.push(Number(entry));
  }
  return found;
}

/** undefined when the process is gone (it may end between the listing and the read). */
export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "latin1");
  } catch {
    return undefined;
  }
}

/**
 * Whether `comm` (and, for a longer name, argv[0]'s file name) is `name`: the kernel cuts comm
 * at 15 bytes, so "systemd-journald" is "systemd-journal" there.
 */
export function nameMatches(name: string, comm: string, cmdline: () => string | undefined): boolean {
  if (name.length <= COMM_MAX) return comm === name;
  if (comm !== name.slice(0, COMM_MAX)) return false;
  const argv0 = (cmdline() ?? "").split("\0")[0] ?? "";
  return argv0.slice(argv0.lastIndexOf("/") + 1) === name;
}

/** The fields of /proc/<pid>/stat this plugin needs; comm (field 2) may hold spaces and parentheses. */
export function parseStat(text: string): Usage {
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state), then ppid; utime, stime are fields 14, 15; starttime is 22.
  return { state: fields[0] ?? "?", ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]), start: Number(fields[19]) };
}

/**
 * `pid` and the processes that started it, up to but not including pid 1: a wrapper such as sudo,
 * timeout or `stavily plugin run` holds the watched pattern in its own command line.
 */
export function selfAndAncestors(pid = process.pid): Set<number> {
  const chain = new Set<number>();
  for (let p = pid; p > 1 && !chain.has(p); ) {
    chain.add(p);
    const stat = readText(`/proc/${p}/stat`);
    if (stat === undefined) break;
    p = parseStat(stat).ppid;
  }
  return chain;
}

/** Resident set size in bytes from /proc/<pid>/status (VmRSS); 0 for kernel threads. */
export function parseRss(status: string): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

/** Ticks of all CPUs together since boot, and how many CPUs: the clock for per-process CPU percent. */
export function machineTicks(stat: string): { ticks: number; cpus: number } {
  let ticks = 0;
  let cpus = 0;
  for (const line of stat.split("\n")) {
    if (line.startsWith("cpu ")) ticks = line.trim().split(/\s+/).slice(1, 9).map(Number).reduce((a, b) => a + b, 0);
    else if (/^cpu\d/.test(line)) cpus++;
  }
  return { ticks, cpus: Math.max(1, cpus) };
}
