/**
 * Reports RAM and swap in use at or above a warning (severity medium) or critical (high) percent,
 * again when a warning becomes critical, and once when back under the warning level. From
 * /proc/meminfo on Linux (no child process); elsewhere from ctx.system.memory(). A machine without
 * swap has no swap condition.
 */
import type { DetectedEvent } from "../../../src/sdk/index.ts";
import { defineTrigger } from "../../../src/sdk/index.ts";
import { createConditions, perInstance } from "../../../src/sdk/index.ts";
import { ConfigSchema, type MemoryConfig } from "./_config.ts";
import { type Memory, readMeminfo } from "./_meminfo.ts";

const conditions = perInstance(createConditions);

export default defineTrigger<MemoryConfig>({
  configSchema: ConfigSchema,
  async detect(ctx) {
    const memory = process.platform === "linux" ? readMeminfo() : fromSystem(await ctx.system.memory());
    const { warning, critical, swap_warning, swap_critical } = ctx.config;
    const ram = measure("memory", memory.total, memory.total - memory.available, warning, critical);
    const swap = measure("swap", memory.swapTotal, memory.swapTotal - memory.swapFree, swap_warning, swap_critical);
    const events: DetectedEvent[] = [];
    for (const m of [ram, swap]) {
      const event = conditions(ctx.state).update(
        m.kind,
        m.level === "critical" ? "high" : m.level === "warning" ? "medium" : null,
        (severity) => ({ type: `${m.kind}.high`, severity, data: m.data, dedupe_key: m.kind, tags: [m.kind] }),
        () => ({ type: `${m.kind}.high.resolved`, severity: "low", data: m.data, dedupe_key: m.kind, tags: [m.kind] }),
      );
      if (event) events.push(event);
    }
    return events;
  },
});

function measure(kind: "memory" | "swap", total: number, used: number, warning: number, critical: number) {
  // No swap at all is not a condition (and clears one reported while there was swap).
  const percent = total > 0 ? (used / total) * 100 : null;
  const level = percent === null ? null : percent >= critical ? "critical" : percent >= warning ? "warning" : null;
  const data = { usage_percent: percent === null ? null : Math.round(percent * 10) / 10, used_bytes: used, total_bytes: total, warning, critical, level };
  return { kind, level, data };
}

function fromSystem(m: { total: number; available: number; swapTotal: number; swapUsed: number }): Memory {
  return { total: m.total, available: m.available, swapTotal: m.swapTotal, swapFree: m.swapTotal - m.swapUsed };
}

