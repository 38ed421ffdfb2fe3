/**
 * cpu-monitor through the real worker runtime on this machine's /proc/stat, with thresholds that
 * make the outcome certain: 0 is always reached, 100.1 never.
 */
import { afterEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { assertPluginConfig, parseBuiltinManifest } from "../../../src/core/plugin/manifest/index.ts";
import { createWorkerInstance } from "../../../src/core/plugin/worker/index.ts";
import { instances, makeLaunch, recordingLogger, tempDirs, within } from "../../../src/core/plugin/worker/_test-support.ts";
import { BUILTIN_PLUGINS } from "../../all.ts";
import { ConfigSchema } from "./_config.ts";
import { parseStat, readStat, usage } from "./_stat.ts";

const ID = "cpu-monitor";
const MANIFEST = parseBuiltinManifest(ID, BUILTIN_PLUGINS[ID]!.manifest);
const temp = tempDirs();
const running = instances();
afterEach(async () => {
  await running.cleanup();
  temp.cleanup();
});

/** Starts the built-in as the sensor would, with `local` as plugins.config.cpu-monitor. */
async function start(local: Record<string, unknown>, home = temp.make()) {
  const config = assertPluginConfig(MANIFEST, local, `plugins.config.${ID}`);
  const instance = running.track(createWorkerInstance(makeLaunch(home, `builtin:${ID}`, "trigger", { config }), { logger: recordingLogger() }));
  await instance.start(within());
  return {
    instance,
    home,
    /** A detect once every cpu line of /proc/stat has moved, so each one is a real sample. */
    async detect() {
      await ticksPassed();
      const events = await instance.detect(within());
      // The plugin read /proc/stat during detect: the next wait counts from after that reading.
      last = readStat();
      return events;
    },
  };
}

let last = readStat();
/** Waits (polling /proc/stat) until every cpu's counters moved since the previous detect. */
async function ticksPassed() {
  for (;;) {
    const now = readStat();
    if ([...now].every(([cpu, ticks]) => ticks.total > (last.get(cpu)?.total ?? -1))) return;
    await Bun.sleep(2);
  }
}

test("usage is the busy share of the ticks between two readings", () => {
  const read = (name: string) => parseStat(readFileSync(join(import.meta.dir, "testdata", name), "utf8"));
  const [before, after] = [read("stat-1"), read("stat-2")];
  expect([...after.keys()]).toEqual(["total", "cpu0", "cpu1"]);
  expect(usage(before.get("total")!, after.get("total")!)).toBeCloseTo(66.667, 2);
  expect(usage(before.get("cpu0")!, after.get("cpu0")!)).toBe(100);
  expect(usage(before.get("cpu1")!, after.get("cpu1")!)).toBeCloseTo(16.667, 2);
  expect(usage(before.get("cpu1")!, before.get("cpu1")!)).toBeNull();
});

test("threshold 0: the first detect primes, cpu.high after N samples, once", async () => {
  const { detect } = await start({ threshold: 0, samples: 2 });
  expect(await detect()).toEqual([]);
  expect(await detect()).toEqual([]);
  const [event, ...rest] = await detect();
  expect(rest).toEqual([]);
  expect(event).toMatchObject({ type: "cpu.high", severity: "high", dedupe_key: "total", data: { cpu: "total", threshold: 0, samples: 2, per_core: false } });
  expect(event!.data!.usage).toBeGreaterThanOrEqual(0);
  expect(await detect()).toEqual([]);
});

test("threshold 100.1 never fires", async () => {
  const { detect } = await start({ threshold: 100.1, samples: 1 });
  for (let i = 0; i < 4; i++) expect(await detect()).toEqual([]);
});

test("per_core: one condition per core, keyed by core", async () => {
  const { detect } = await start({ threshold: 0, samples: 1, per_core: true, severity: "medium" });
  expect(await detect()).toEqual([]);
  const events = await detect();
  const cores = [...readStat().keys()].filter((cpu) => cpu !== "total");
  expect(events.map((e) => e.dedupe_key)).toEqual(cores);
  expect(events.every((e) => e.type === "cpu.high" && e.severity === "medium" && e.data?.per_core === true)).toBe(true);
});

test("cpu.high.resolved once when usage is back under the threshold, after an agent restart too", async () => {
  const first = await start({ threshold: 0, samples: 1 });
  await first.detect();
  expect((await first.detect()).map((e) => e.type)).toEqual(["cpu.high"]);
  await first.instance.stop(within());

  // Same agent home, a threshold no sample reaches: the condition reported before must clear.
  const second = await start({ threshold: 100.1, samples: 1 }, first.home);
  expect(await second.detect()).toEqual([]);
  expect(await second.detect()).toEqual([
    { type: "cpu.high.resolved", severity: "low", dedupe_key: "total", tags: ["cpu"], data: expect.objectContaining({ cpu: "total", threshold: 100.1 }), id: expect.any(String) },
  ]);
  expect(await second.detect()).toEqual([]);
});

test("a bad configuration refuses to start", async () => {
  await expect(start({ samples: 0 })).rejects.toThrow();
  await expect(start({ severity: "urgent" })).rejects.toThrow();
});

test("testdata/sample.yaml is a valid config for both plugin.yaml and the plugin", () => {
  const sample = (Bun.YAML.parse(readFileSync(join(import.meta.dir, "testdata", "sample.yaml"), "utf8")) as { plugins: { config: Record<string, unknown> } }).plugins.config[ID];
  expect(v.parse(ConfigSchema, sample) as Record<string, unknown>).toEqual(assertPluginConfig(MANIFEST, sample, `plugins.config.${ID}`));
});

test("plugin.yaml and the plugin's config schema agree on every default", () => {
  expect(v.parse(ConfigSchema, {}) as Record<string, unknown>).toEqual(assertPluginConfig(MANIFEST, {}, "x"));
});

