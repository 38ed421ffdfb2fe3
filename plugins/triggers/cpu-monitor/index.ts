/**
 * Reports CPU usage (the total, or each core) at or above a threshold for N consecutive samples,
 * and once more when it has been below for N samples. Usage is the busy share of the time between
 * two detects, from /proc/stat on Linux (no child process); elsewhere from ctx.system.cpuLoad().
 * The first detect only takes the starting reading.
 */
import type { DetectedEvent, PluginContext } from "../../../src/sdk/index.ts";
import { defineTrigger } from "../../../src/sdk/index.ts";
import { createConditions, perInstance } from "../../../src/sdk/index.ts";
import { ConfigSchema, type CpuConfig } from "./_config.ts";
import { readStat, type Ticks, usage } from "./_stat.ts";

interface Streak {
  high: number;
  low: number;
}

const session = perInstance((state) => ({
  conditions: createConditions(state),
  previous: undefined as Map<string, Ticks> | undefined,
  streaks: new Map<string, Streak>(),
}));

export default defineTrigger<CpuConfig>({
  configSchema: ConfigSchema,
  async detect(ctx) {
    const s = session(ctx.state);
    const usages = await sample(ctx, s);
    if (!usages) return null;
    const { threshold, samples, per_core, severity } = ctx.config;
    const events: DetectedEvent[] = [];
    for (const [cpu, percent] of usages) {
      if (percent === null || per_core === (cpu === "total")) continue;
      const streak = s.streaks.get(cpu) ?? { high: 0, low: 0 };
      const high = percent >= threshold;
      streak.high = high ? Math.min(streak.high + 1, samples) : 0;
      streak.low = high ? 0 : Math.min(streak.low + 1, samples);
      s.streaks.set(cpu, streak);
      const active = s.conditions.active().get(cpu);
      const wanted = active ? (streak.low >= samples ? null : active) : streak.high >= samples ? severity : null;
      const data = { cpu, usage: round(percent), threshold, samples, per_core };
      const event = s.conditions.update(cpu, wanted, (level) => ({ type: "cpu.high", severity: level, data, dedupe_key: cpu, tags: ["cpu"] }), () => resolved(cpu, data));
      if (event) events.push(event);
    }
    // A core that went away, or per_core switched since the condition started: nothing will clear it otherwise.
    for (const cpu of [...s.conditions.active().keys()]) {
      if (usages.has(cpu) && per_core !== (cpu === "total")) continue;
      const event = s.conditions.update(cpu, null, () => resolved(cpu, {}), () => resolved(cpu, { cpu, threshold, samples, per_core, reason: "no longer monitored" }));
      if (event) events.push(event);
    }
    return events;
  },
});

function resolved(cpu: string, data: Record<string, unknown>): DetectedEvent {
  return { type: "cpu.high.resolved", severity: "low", data, dedupe_key: cpu, tags: ["cpu"] };
}

/**
 * Usage per cpu ("total", "cpu0", …) since the previous detect (null: no tick passed); undefined on
 * the first detect.
 */
async function sample(ctx: PluginContext<CpuConfig>, s: ReturnType<typeof session>): Promise<Map<string, number | null> | undefined> {
  if (process.platform !== "linux") {
    // systeminformation measures since its previous call too; its first answer (since boot) only primes.
    const load = await ctx.system.cpuLoad();
    const primed = s.previous !== undefined;
    s.previous = new Map();
    if (!primed) return undefined;
    return new Map<string, number | null>([["total", load.load], ...load.cores.map((core, i): [string, number] => [`cpu${i}`, core])]);
  }
  const now = readStat();
  const before = s.previous;
  s.previous = now;
  if (!before) return undefined;
  const usages = new Map<string, number | null>();
  for (const [cpu, ticks] of now) {
    const previous = before.get(cpu);
    usages.set(cpu, previous ? usage(previous, ticks) : null);
  }
  return usages;
}

const round = (n: number) => Math.round(n * 10) / 10;
