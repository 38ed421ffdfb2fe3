/**
 * `ctx.system`: a small typed facade over systeminformation, loaded on first use so a plugin that
 * never asks does not pay for it.
 */
import type { PluginSystem } from "../../../../sdk/types.ts";

type Si = typeof import("systeminformation");

export function createPluginSystem(): PluginSystem {
  let si: Promise<Si> | undefined;
  const load = () => (si ??= import("systeminformation").then((mod) => ((mod as { default?: Si }).default ?? mod) as Si));
  return {
    async cpuLoad() {
      const load_ = await (await load()).currentLoad();
      return { load: load_.currentLoad, cores: load_.cpus.map((cpu) => cpu.load) };
    },
    async memory() {
      const mem = await (await load()).mem();
      return { total: mem.total, used: mem.used, free: mem.free, available: mem.available, swapTotal: mem.swaptotal, swapUsed: mem.swapused };
    },
    async disks() {
      const disks = await (await load()).fsSize();
      return disks.map((d) => ({ mount: d.mount, fs: d.fs, type: d.type, size: d.size, used: d.used, available: d.available, usePercent: d.use }));
    },
    async processes(limit = 20) {
      const { list } = await (await load()).processes();
      return [...list]
        .sort((a, b) => b.cpu - a.cpu || b.memRss - a.memRss)
        .slice(0, Math.max(0, limit))
        // systeminformation reports memRss in KiB.
        .map((p) => ({ pid: p.pid, name: p.name, cpu: p.cpu, memRss: p.memRss * 1024, command: p.command }));
    },
    async network() {
      const stats = await (await load()).networkStats("*");
      const perSecond = (value: number) => (Number.isFinite(value) && value >= 0 ? value : null);
      return stats.map((s) => ({ iface: s.iface, rxBytes: s.rx_bytes, txBytes: s.tx_bytes, rxSec: perSecond(s.rx_sec), txSec: perSecond(s.tx_sec) }));
    },
  };
}
