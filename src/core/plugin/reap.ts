/**
 * Leftovers of an agent that died hard (kill -9, a crash): the ctx.exec children and stdio plugin
 * processes it started run in process groups of their own, so its death does not reach them, and an
 * instruction reported `agent_restarted` could still take effect minutes later. Each of them carries
 * STAVILY_AGENT_HOME=<home>; at its start, holding the home's lock (so no live agent owns them), an
 * agent kills the groups of those that name its home. Linux only: elsewhere there is no /proc to read
 * and this does nothing.
 *
 * The marker is the guard against pid reuse: a process is picked by what its environment says, never
 * by a pid remembered from an earlier run.
 */
import { readdirSync, readFileSync } from "node:fs";
import type { Logger } from "../log/index.ts";
import { sleep } from "../timing.ts";
import { AGENT_HOME_ENV } from "./types.ts";

export const REAP_DEFAULTS = {
  /** How long a group has after SIGTERM before SIGKILL. */
  graceMs: 2_000,
  /** How long to wait for SIGKILLed groups to be gone before reporting them. */
  killWaitMs: 1_000,
  /** How often /proc is looked at while waiting. */
  pollMs: 50,
};

export type ReapOptions = typeof REAP_DEFAULTS;

export interface ReapedGroup {
  pgid: number;
  /** The first marked process found in the group. */
  pid: number;
  /** Its command line, truncated. */
  command: string;
  /** What ended the group; null if it outlived SIGKILL's wait too, or could not be signalled. */
  signal: "SIGTERM" | "SIGKILL" | null;
}

const COMMAND_CHARS = 200;
const PROC = "/proc";

/**
 * Kills the process groups of processes marked with `home` that are not this process, its ancestors or
 * its descendants (nor in its own group), and logs one warning per group. Never throws: what cannot be
 * read is skipped, a group that cannot be signalled is logged.
 */
export async function reapLeftovers(home: string, logger: Logger, options: Partial<ReapOptions> = {}): Promise<ReapedGroup[]> {
  if (process.platform !== "linux") return [];
  const opts = { ...REAP_DEFAULTS, ...options };
  const table = listProcesses();
  const self = table.get(process.pid);
  const spared = family(table, process.pid);
  const groups = new Map<number, ReapedGroup>();
  for (const info of table.values()) {
    if (spared.has(info.pid) || info.pgid <= 1 || info.pgid === self?.pgid || groups.has(info.pgid)) continue;
    if (markerOf(info.pid) !== home) continue;
    groups.set(info.pgid, { pgid: info.pgid, pid: info.pid, command: commandOf(info.pid), signal: null });
  }
  if (groups.size === 0) return [];

  const pending = new Set<number>();
  const refused = new Set<number>();
  const send = (pgid: number, signal: "SIGTERM" | "SIGKILL") => {
    if (signalGroup(groups.get(pgid)!, signal, logger)) return;
    pending.delete(pgid);
    refused.add(pgid);
  };
  for (const pgid of groups.keys()) pending.add(pgid);
  for (const pgid of [...pending]) send(pgid, "SIGTERM");
  await waitGone(pending, opts.graceMs, opts, (pgid) => (groups.get(pgid)!.signal = "SIGTERM"));
  // A group still alive keeps its id (the kernel hands out no pid that is a live group's), so this is the same group.
  for (const pgid of [...pending]) send(pgid, "SIGKILL");
  await waitGone(pending, opts.killWaitMs, opts, (pgid) => (groups.get(pgid)!.signal = "SIGKILL"));
  for (const group of groups.values()) {
    if (refused.has(group.pgid)) continue; // logged when refused
    const fields = { pid: group.pid, pgid: group.pgid, command: group.command };
    if (group.signal) logger.warn("killed a plugin process left by an earlier run", { ...fields, signal: group.signal });
    else logger.warn("a plugin process left by an earlier run outlived SIGKILL", fields);
  }
  return [...groups.values()];
}

interface ProcessInfo {
  pid: number;
  ppid: number;
  pgid: number;
  /** Exited, waiting for its parent to collect it: as good as gone. */
  zombie: boolean;
}

/** Every process /proc lists, with its parent and group; one that is gone or unreadable is skipped. */
function listProcesses(): Map<number, ProcessInfo> {
  const table = new Map<number, ProcessInfo>();
  let entries: string[];
  try {
    entries = readdirSync(PROC);
  } catch {
    return table;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const info = statOf(Number(entry));
    if (info) table.set(info.pid, info);
  }
  return table;
}

function statOf(pid: number): ProcessInfo | undefined {
  let stat: string;
  try {
    stat = readFileSync(`${PROC}/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ppid = Number(fields[1]);
  const pgid = Number(fields[2]);
  return Number.isInteger(ppid) && Number.isInteger(pgid) ? { pid, ppid, pgid, zombie: fields[0] === "Z" } : undefined;
}

/** `pid`, its ancestors and its descendants: never ours to kill. */
function family(table: Map<number, ProcessInfo>, pid: number): Set<number> {
  const out = new Set<number>([pid]);
  for (let up = table.get(pid)?.ppid; up && !out.has(up); up = table.get(up)?.ppid) out.add(up);
  const children = new Map<number, number[]>();
  for (const info of table.values()) {
    const siblings = children.get(info.ppid);
    if (siblings) siblings.push(info.pid);
    else children.set(info.ppid, [info.pid]);
  }
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of children.get(queue.pop()!) ?? []) {
      if (!out.has(child)) {
        out.add(child);
        queue.push(child);
      }
    }
  }
  return out;
}

/** The process's STAVILY_AGENT_HOME; undefined when it has none or its environment cannot be read. */
function markerOf(pid: number): string | undefined {
  let environ: string;
  try {
    environ = readFileSync(`${PROC}/${pid}/environ`, "utf8");
  } catch {
    return undefined;
  }
  const prefix = `${AGENT_HOME_ENV}=`;
  for (const entry of environ.split("\0")) if (entry.startsWith(prefix)) return entry.slice(prefix.length);
  return undefined;
}

function commandOf(pid: number): string {
  let raw = "";
  try {
    raw = readFileSync(`${PROC}/${pid}/cmdline`, "utf8");
  } catch {
    // gone meanwhile
  }
  const command = raw.split("\0").filter(Boolean).join(" ");
  return command.length > COMMAND_CHARS ? `${command.slice(0, COMMAND_CHARS)}…` : command;
}

/** Live groups among `pgids`, by one look at /proc. */
function liveGroups(pgids: Set<number>): Set<number> {
  const live = new Set<number>();
  for (const info of listProcesses().values()) if (!info.zombie && pgids.has(info.pgid)) live.add(info.pgid);
  return live;
}

/** Waits until the groups in `pending` are gone or `ms` have passed; each one gone is taken out and handed to `onGone`. */
async function waitGone(pending: Set<number>, ms: number, opts: ReapOptions, onGone: (pgid: number) => void): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const live = liveGroups(pending);
    for (const pgid of [...pending]) {
      if (!live.has(pgid)) {
        pending.delete(pgid);
        onGone(pgid);
      }
    }
    if (pending.size === 0 || Date.now() >= deadline) return;
    await sleep(opts.pollMs);
  }
}

/** True if the signal went out (or the group is gone already, ESRCH, which counts as sent); a refusal is logged. */
function signalGroup(group: ReapedGroup, signal: "SIGTERM" | "SIGKILL", logger: Logger): boolean {
  try {
    process.kill(-group.pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return true;
    logger.warn("could not kill a plugin process left by an earlier run", { pid: group.pid, pgid: group.pgid, command: group.command, signal, error: String(error) });
    return false;
  }
}
