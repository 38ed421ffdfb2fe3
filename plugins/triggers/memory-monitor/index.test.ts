/**
 * memory-monitor through the real worker runtime on this machine's /proc/meminfo, with thresholds
 * that make the outcome certain: 0 % is always reached, 100 % never (some memory is always available).
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
import { parseMeminfo, readMeminfo } from "./_meminfo.ts";

const ID = "memory-monitor";
const MANIFEST = parseBuiltinManifest(ID, BUILTIN_PLUGINS[ID]!.manifest);
const temp = tempDirs();
const running = instances();
afterEach(async () => {
  await running.cleanup();
  temp.cleanup();
});

const NEVER = { warning: 100, critical: 100, swap_warning: 100, swap_critical: 100 };
const hasSwap = readMeminfo().swapTotal > 0;

/** Starts the built-in as the sensor would, with `local` as plugins.config.memory-monitor. */
async function start(local: Record<string, unknown>, home = temp.make()) {
  const config = assertPluginConfig(MANIFEST, local, `plugins.config.${ID}`);
  const instance = running.track(createWorkerInstance(makeLaunch(home, `builtin:${ID}`, "trigger", { config }), { logger: recordingLogger() }));
  await instance.start(within());
  return { instance, home, detect: () => instance.detect(within()) };
}

/** One detect in a fresh instance on `home` (the agent restarting with another config). */
async function detectOnce(home: string, local: Record<string, unknown>) {
  const { instance, detect } = await start(local, home);
  const events = await detect();
  await instance.stop(within());
  return events.map((e) => `${e.type} ${e.severity}`);
}

test("parses /proc/meminfo, with the pre-3.14 estimate when MemAvailable is missing", () => {
  const read = (name: string) => parseMeminfo(readFileSync(join(import.meta.dir, "testdata", name), "utf8"));
  expect(read("meminfo")).toEqual({ total: 8_192_000_000, available: 2_048_000_000, swapTotal: 4_096_000_000, swapFree: 1_024_000_000 });
  expect(read("meminfo-old")).toMatchObject({ available: 1_843_200_000, swapTotal: 0 });
  expect(() => parseMeminfo("nothing here")).toThrow("memory-monitor: /proc/meminfo has no MemTotal");
});

test("critical 0: memory.high with severity high, reported once", async () => {
  const { detect } = await start({ ...NEVER, warning: 0, critical: 0 });
  const [event, ...rest] = await detect();
  expect(rest).toEqual([]);
  expect(event).toMatchObject({ type: "memory.high", severity: "high", dedupe_key: "memory", data: { warning: 0, critical: 0, level: "critical" } });
  const data = event!.data as { usage_percent: number; used_bytes: number; total_bytes: number };
  expect(data.total_bytes).toBe(readMeminfo().total);
  expect(data.usage_percent).toBeGreaterThan(0);
  expect(data.usage_percent).toBeLessThan(100);
  expect(await detect()).toEqual([]);
});

test("thresholds of 100 never fire", async () => {
  const { detect } = await start(NEVER);
  expect(await detect()).toEqual([]);
  expect(await detect()).toEqual([]);
});

test("warning, then critical, then back: one event each, across agent restarts", async () => {
  const home = temp.make();
  expect(await detectOnce(home, { ...NEVER, warning: 0 })).toEqual(["memory.high medium"]);
  expect(await detectOnce(home, { ...NEVER, warning: 0, critical: 0 })).toEqual(["memory.high high"]);
  // Down from critical to warning is still the same condition: nothing new to say.
  expect(await detectOnce(home, { ...NEVER, warning: 0 })).toEqual([]);
  expect(await detectOnce(home, NEVER)).toEqual(["memory.high.resolved low"]);
  expect(await detectOnce(home, NEVER)).toEqual([]);
});

test(`swap at 0 %: ${hasSwap ? "swap.high (this machine has swap)" : "no event (this machine has no swap)"}`, async () => {
  const { detect } = await start({ ...NEVER, swap_warning: 0, swap_critical: 0 });
  const events = await detect();
  if (hasSwap) expect(events).toMatchObject([{ type: "swap.high", severity: "high", dedupe_key: "swap" }]);
  else expect(events).toEqual([]);
});

test("warning above critical refuses to start", async () => {
  await expect(start({ warning: 95, critical: 90 })).rejects.toThrow("warning is above critical");
  await expect(start({ swap_warning: 99 })).rejects.toThrow("swap_warning is above swap_critical");
});

test("testdata/sample.yaml is a valid config for both plugin.yaml and the plugin", () => {
  const sample = (Bun.YAML.parse(readFileSync(join(import.meta.dir, "testdata", "sample.yaml"), "utf8")) as { plugins: { config: Record<string, unknown> } }).plugins.config[ID];
  expect(v.parse(ConfigSchema, sample) as Record<string, unknown>).toEqual(assertPluginConfig(MANIFEST, sample, `plugins.config.${ID}`));
});

test("plugin.yaml and the plugin's config schema agree on every default", () => {
  expect(v.parse(ConfigSchema, {}) as Record<string, unknown>).toEqual(assertPluginConfig(MANIFEST, {}, "x"));
});
