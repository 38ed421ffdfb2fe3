/**
 * Reports filesystems used at or above a warning (severity medium) or critical (high) percent,
 * per mount (dedupe_key: the mount point, or the configured path), again when a warning becomes
 * critical, and once when back under the warning level. A path that cannot be measured is its own
 * condition, disk.unavailable. statfs(2) and /proc/self/mountinfo on Linux, no child process;
 * without /proc and without `paths`, ctx.system.disks().
 */
import type { DetectedEvent, PluginContext } from "../../../src/sdk/index.ts";
import { defineTrigger } from "../../../src/sdk/index.ts";
import { createConditions, perInstance } from "../../../src/sdk/index.ts";
import { ConfigSchema, type DiskConfig } from "./_config.ts";
import { excluded, readMounts } from "./_mounts.ts";
import { type Answer, createStatfs } from "./_statfs.ts";

interface Target {
  /** The mount point, or the configured path. */
  key: string;
  fs_type?: string;
  device?: string;
  answer: Answer;
}

const session = perInstance((state) => ({ conditions: createConditions(state), statfs: undefined as ReturnType<typeof createStatfs> | undefined }));

export default defineTrigger<DiskConfig>({
  configSchema: ConfigSchema,
  async detect(ctx) {
    const s = session(ctx.state);
    const statfs = (s.statfs ??= createStatfs(ctx.config.timeout_ms));
    const { warning, critical } = ctx.config;
    const events: DetectedEvent[] = [];
    const seen = new Set<string>();
    const note = (event: DetectedEvent | undefined) => event && events.push(event);

    for (const target of await targets(ctx, statfs)) {
      const { key, answer } = target;
      const where = { mount: key, ...(target.fs_type ? { fs_type: target.fs_type } : {}), ...(target.device ? { device: target.device } : {}) };
      const unavailable = `unavailable:${key}`;
      seen.add(key).add(unavailable);
      if (!answer.space) {
        note(s.conditions.update(unavailable, "medium", (severity) => event("disk.unavailable", severity, unavailable, { ...where, error: answer.error }), () => event("disk.unavailable.resolved", "low", unavailable, where)));
        continue; // Its disk.high, if any, stays as it was: nothing is known.
      }
      note(s.conditions.update(unavailable, null, () => event("disk.unavailable", "medium", unavailable, where), () => event("disk.unavailable.resolved", "low", unavailable, where)));
      const { space } = answer;
      const level = space.percent >= critical ? "critical" : space.percent >= warning ? "warning" : null;
      const data = {
        ...where,
        usage_percent: round(space.percent),
        used_bytes: space.used,
        available_bytes: space.available,
        total_bytes: space.total,
        inodes_percent: space.inodesPercent === null ? null : round(space.inodesPercent),
        warning,
        critical,
        level,
      };
      note(s.conditions.update(key, level === "critical" ? "high" : level ? "medium" : null, (severity) => event("disk.high", severity, key, data), () => event("disk.high.resolved", "low", key, data)));
    }
    // Unmounted, or no longer watched since the condition started: nothing would clear it otherwise.
    for (const key of [...s.conditions.active().keys()]) {
      if (seen.has(key)) continue;
      const type = key.startsWith("unavailable:") ? "disk.unavailable.resolved" : "disk.high.resolved";
      const mount = key.replace(/^unavailable:/, "");
      note(s.conditions.update(key, null, () => event(type, "low", key, { mount }), () => event(type, "low", key, { mount, reason: "no longer monitored" })));
    }
    return events;
  },
});

async function targets(ctx: PluginContext<DiskConfig>, statfs: ReturnType<typeof createStatfs>): Promise<Target[]> {
  const { paths, exclude_fs_types, exclude_mounts } = ctx.config;
  if (paths.length > 0) return Promise.all(paths.map(async (path) => ({ key: path, answer: await statfs(path) })));
  if (process.platform !== "linux") {
    // No mount table to read without forking; systeminformation runs df (or its platform's equivalent).
    const disks = await ctx.system.disks();
    return disks
      .filter((d) => !exclude_fs_types.includes(d.type) && !excluded(d.mount, exclude_mounts))
      .map((d) => ({ key: d.mount, fs_type: d.type, answer: { space: { total: d.size, used: d.used, available: d.available, percent: d.usePercent, inodesPercent: null } } }));
  }
  const mounts = readMounts(exclude_fs_types, exclude_mounts);
  return Promise.all(mounts.map(async (m) => ({ key: m.mount, fs_type: m.fsType, device: m.source, answer: await statfs(m.mount) })));
}

function event(type: string, severity: DetectedEvent["severity"], key: string, data: Record<string, unknown>): DetectedEvent {
  return { type, severity, data, dedupe_key: key, tags: ["disk"] };
}

const round = (n: number) => Math.round(n * 10) / 10;
