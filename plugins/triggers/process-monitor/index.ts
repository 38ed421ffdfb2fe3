/**
 * Watches the processes matching a name or a command-line pattern: process.absent when it should
 * run and none does, process.present when it should not run and one does, process.cpu.high and
 * process.memory.high when one passes a limit; each with the pids, and once more `.resolved` when
 * the condition clears. /proc on Linux (no child process); elsewhere ctx.system.processes().
 */
import { readFileSync } from "node:fs";
import type { DetectedEvent, PluginContext, Severity } from "../../../src/sdk/index.ts";
import { defineTrigger } from "../../../src/sdk/index.ts";
import { createConditions, perInstance } from "../../../src/sdk/index.ts";
import { ConfigSchema, type ProcessConfig } from "./_config.ts";
import { machineTicks, nameMatches, parseRss, parseStat, pids, readText, selfAndAncestors } from "./_proc.ts";

interface Found {
  pid: number;
  name: string;
  command: string;
  /** Percent of one core since the previous detect; null when not known yet (a new process, the first detect). */
  cpu_percent?: number | null;
  memory_mb?: number;
}

/** Processes listed in one event at most; `count` says how many there were. */
const MAX_LISTED = 20;
const MAX_COMMAND = 256;

const session = perInstance((state) => ({
  conditions: createConditions(state),
  /** CPU ticks per process ("pid:starttime", so a reused pid starts afresh) at the previous detect. */
  ticks: new Map<string, number>(),
  machine: undefined as { ticks: number; cpus: number } | undefined,
  regex: undefined as RegExp | undefined,
  skip: undefined as Set<number> | undefined,
}));
type Session = ReturnType<typeof session>;

export default defineTrigger<ProcessConfig>({
  configSchema: ConfigSchema,
  async detect(ctx) {
    const s = session(ctx.state);
    const { name, pattern, max_cpu_percent, max_memory_mb, severity } = ctx.config;
    const found = process.platform === "linux" ? scan(ctx.config, s) : await fromSystem(ctx, s);
    const target = name ? { name } : { pattern };
    const listed = (list: Found[]) => ({ ...target, pids: list.map((p) => p.pid), count: list.length, processes: list.slice(0, MAX_LISTED) });
    const events: DetectedEvent[] = [];
    const check = (key: string, wanted: Severity | null, type: string, data: Record<string, unknown>) => {
      const event = s.conditions.update(key, wanted, (level) => ({ type, severity: level, data, dedupe_key: key, tags: ["process"] }), () => ({ type: `${type}.resolved`, severity: "low", data, dedupe_key: key, tags: ["process"] }));
      if (event) events.push(event);
    };
    const holding = (key: string) => s.conditions.active().get(key) ?? null;
    const checked = new Set<string>();

    if (ctx.config.expect === "running") {
      checked.add("absent");
      check("absent", found.length === 0 ? severity : null, "process.absent", { ...listed(found), expect: "running" });
    } else {
      checked.add("present");
      check("present", found.length > 0 ? severity : null, "process.present", { ...listed(found), expect: "stopped" });
    }
    if (max_cpu_percent !== undefined) {
      checked.add("cpu");
      const over = found.filter((p) => typeof p.cpu_percent === "number" && p.cpu_percent > max_cpu_percent);
      // A process not measured yet might be the one over: keep the condition as it is until it is.
      const unknown = found.some((p) => p.cpu_percent === null);
      check("cpu", over.length > 0 ? "medium" : unknown ? holding("cpu") : null, "process.cpu.high", { ...listed(over), max_cpu_percent });
    }
    if (max_memory_mb !== undefined) {
      checked.add("memory");
      const over = found.filter((p) => (p.memory_mb ?? 0) > max_memory_mb);
      check("memory", over.length > 0 ? "medium" : null, "process.memory.high", { ...listed(over), max_memory_mb });
    }
    // A condition the configuration no longer asks about (expect or a limit changed since it started).
    for (const key of [...s.conditions.active().keys()]) {
      if (checked.has(key)) continue;
      const type = { absent: "process.absent", present: "process.present", cpu: "process.cpu.high", memory: "process.memory.high" }[key] ?? `process.${key}`;
      check(key, null, type, { ...target, reason: "no longer monitored" });
    }
    return events;
  },
});

/** The matching processes from /proc, with CPU and memory when a limit asks for them. */
function scan(config: ProcessConfig, s: Session): Found[] {
  const cpu = config.max_cpu_percent !== undefined;
  const memory = config.max_memory_mb !== undefined;
  const regex = config.pattern ? (s.regex ??= new RegExp(config.pattern)) : undefined;
  const machine = cpu ? machineTicks(readFileSync("/proc/stat", "utf8")) : undefined;
  const elapsed = machine && s.machine && machine.ticks > s.machine.ticks ? (machine.ticks - s.machine.ticks) / machine.cpus : 0;
  const ticks = new Map<string, number>();
  const found: Found[] = [];
  const skip = (s.skip ??= selfAndAncestors());
  for (const pid of pids()) {
    if (skip.has(pid)) continue;
    const dir = `/proc/${pid}`;
    let comm: string | undefined;
    let cmdline: string | undefined;
    if (regex) {
      cmdline = readText(`${dir}/cmdline`);
      // Kernel threads have no command line.
      if (!cmdline || !regex.test(joinArgs(cmdline))) continue;
    } else {
      comm = readText(`${dir}/comm`)?.replace(/\n$/, "");
      if (comm === undefined || !nameMatches(config.name, comm, () => (cmdline ??= readText(`${dir}/cmdline`)))) continue;
    }
    const stat = readText(`${dir}/stat`);
    if (stat === undefined) continue;
    const usage = parseStat(stat);
    // A zombie has exited; only its exit status is left for its parent to collect.
    if (usage.state === "Z" || usage.state === "X") continue;
    const p: Found = {
      pid,
      name: (comm ??= readText(`${dir}/comm`)?.replace(/\n$/, "") ?? ""),
      command: joinArgs((cmdline ??= readText(`${dir}/cmdline`) ?? "")).slice(0, MAX_COMMAND),
    };
    if (cpu) {
      const key = `${pid}:${usage.start}`;
      const before = s.ticks.get(key);
      ticks.set(key, usage.ticks);
      p.cpu_percent = before !== undefined && elapsed > 0 ? round(((usage.ticks - before) / elapsed) * 100) : null;
    }
    if (memory) p.memory_mb = round(parseRss(readText(`${dir}/status`) ?? "") / 1_048_576);
    found.push(p);
  }
  s.ticks = ticks;
  s.machine = machine;
  return found;
}

/** Without /proc: systeminformation's list (it runs ps); its cpu is its own measure since its previous call. */
async function fromSystem(ctx: PluginContext<ProcessConfig>, s: Session): Promise<Found[]> {
  const { name, pattern } = ctx.config;
  const regex = pattern ? (s.regex ??= new RegExp(pattern)) : undefined;
  const primed = s.machine !== undefined;
  s.machine = { ticks: 0, cpus: 1 };
  return (await ctx.system.processes(Number.POSITIVE_INFINITY))
    .filter((p) => p.pid !== process.pid && p.pid !== process.ppid && (regex ? regex.test(p.command) : p.name === name))
    .map((p) => ({ pid: p.pid, name: p.name, command: p.command.slice(0, MAX_COMMAND), cpu_percent: primed ? round(p.cpu) : null, memory_mb: round(p.memRss / 1_048_576) }));
}

const joinArgs = (cmdline: string) => cmdline.replace(/\0+$/, "").replaceAll("\0", " ");
const round = (n: number) => Math.round(n * 10) / 10;
