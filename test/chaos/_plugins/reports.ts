/**
 * What an agent of the plugins scenario reports about itself: each instruction's end in its log, and
 * its plugins' counters in its /status.
 */
import type { TestProcess } from "../../support/process.ts";

/** How many times the agent logged each instruction's end ("instruction completed", …): once each. */
export function finishedLines(agent: TestProcess): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of agent.output().split("\n")) {
    if (!line.startsWith("{")) continue;
    let entry: any;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    const message = String(entry.msg ?? entry.message ?? "");
    if (/^instruction (completed|failed|timeout|cancelled)$/.test(message) && entry.instruction_id) {
      counts.set(entry.instruction_id, (counts.get(entry.instruction_id) ?? 0) + 1);
    }
  }
  return counts;
}

/** A plugin's counters summed over its instances, from the agent's /status, and how many are quarantined. */
export function findPluginStats(status: any, id: string): { runs: number; failures: number; timeouts: number; crashes: number; quarantined: number } {
  const total = { runs: 0, failures: 0, timeouts: 0, crashes: 0, quarantined: 0 };
  const found = (function search(value: any): any {
    if (!value || typeof value !== "object") return undefined;
    if (value[id]?.instances) return value[id];
    for (const child of Object.values(value)) {
      const hit = search(child);
      if (hit) return hit;
    }
    return undefined;
  })(status);
  for (const instance of Object.values<any>(found?.instances ?? {})) {
    for (const key of ["runs", "failures", "timeouts", "crashes"] as const) total[key] += instance.stats?.[key] ?? 0;
    if (instance.state === "quarantined") total.quarantined++;
  }
  return total;
}
