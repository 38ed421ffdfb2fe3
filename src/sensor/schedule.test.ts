/** The trigger scheduler's time limit: the manifest's execution_time when it gives one, else the agent's. */
import { describe, expect, test } from "bun:test";
import { recordingLogger } from "../core/api/_testkit.ts";
import type { PluginHost } from "../core/plugin/host.ts";
import { runTriggers } from "./schedule.ts";
import type { Trigger } from "./events.ts";

const trigger = { plugin: "t", id: "t", interval: 100, config: {}, severity: "medium", cooldown: 0, enabled: true } as Trigger;

/** The timeoutMs of the first detect, with a plugin whose manifest says `executionTimeMs`. */
async function firstTimeout(executionTimeMs: number, agentTimeoutMs: number): Promise<number | undefined> {
  const stop = new AbortController();
  let seen: number | undefined;
  const plugin = {
    launch: { limits: { memory: 0, cpu: 0, execution_time: executionTimeMs } },
    async detect(limits: { timeoutMs?: number }) {
      seen = limits.timeoutMs;
      stop.abort();
      return [];
    },
    recordSkipped() {},
  };
  const host = { instance: async () => plugin } as unknown as PluginHost;
  await runTriggers({
    triggers: [trigger],
    host,
    logger: recordingLogger(),
    maxConcurrent: 1,
    timeoutMs: agentTimeoutMs,
    onEvents: () => {},
    signal: stop.signal,
  });
  return seen;
}

describe("runTriggers", () => {
  test("a run is limited by the manifest's execution_time, not the longer sensor.trigger_timeout", async () => {
    expect(await firstTimeout(1_000, 30_000)).toBe(1_000);
  });

  test("without an execution_time, sensor.trigger_timeout applies", async () => {
    expect(await firstTimeout(0, 30_000)).toBe(30_000);
  });
});
