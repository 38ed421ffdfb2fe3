/**
 * disk-space-monitor through the real worker runtime: real statfs of a temp dir and of this
 * machine's mounts, with thresholds that make the outcome certain (0 % always, 100 % never on a
 * filesystem with room for the test's temp files).
 */
import { afterEach, expect, test } from "bun:test";
import { mkdirSync, readFileSync, statfsSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { assertPluginConfig, parseBuiltinManifest } from "../../../src/core/plugin/manifest/index.ts";
import { createWorkerInstance } from "../../../src/core/plugin/worker/index.ts";
import { instances, makeLaunch, recordingLogger, tempDirs, within } from "../../../src/core/plugin/worker/_test-support.ts";
import { BUILTIN_PLUGINS } from "../../all.ts";
import { ConfigSchema, DEFAULT_EXCLUDE_FS_TYPES } from "./_config.ts";
import { parseMountinfo, readMounts, selectMounts } from "./_mounts.ts";
import { createStatfs, toSpace } from "./_statfs.ts";

const ID = "disk-space-monitor";
const MANIFEST = parseBuiltinManifest(ID, BUILTIN_PLUGINS[ID]!.manifest);
const temp = tempDirs();
const running = instances();
afterEach(async () => {
  await running.cleanup();
  temp.cleanup();
});

const ALWAYS = { warning: 0, critical: 0 };
const NEVER = { warning: 100, critical: 100 };

/** Starts the built-in as the sensor would, with `local` as plugins.config.disk-space-monitor. */
async function start(local: Record<string, unknown>, home = temp.make()) {
  const config = assertPluginConfig(MANIFEST, local, `plugins.config.${ID}`);
  const instance = running.track(createWorkerInstance(makeLaunch(home, `builtin:${ID}`, "trigger", { config }), { logger: recordingLogger() }));
  await instance.start(within());
  return { instance, home, detect: () => instance.detect(within()) };
}

test("mountinfo: excluded types and points dropped, one mount per device, hidden mounts ignored, escapes decoded", () => {
  const all = parseMountinfo(readFileSync(join(import.meta.dir, "testdata", "mountinfo"), "utf8"));
  const mounts = selectMounts(all, DEFAULT_EXCLUDE_FS_TYPES, ["/boot/efi", "/var/lib/docker/*"]);
  expect(mounts).toEqual([
    { mount: "/", device: "8:1", fsType: "ext4", source: "/dev/sda1" },
    { mount: "/boot", device: "8:4", fsType: "vfat", source: "/dev/sda4" },
    { mount: "/mnt", device: "8:7", fsType: "ext4", source: "/dev/sda7" },
    { mount: "/srv/my data", device: "8:2", fsType: "xfs", source: "/dev/sda2" },
    { mount: "/var/lib/docker", device: "8:3", fsType: "ext4", source: "/dev/sda3" },
  ]);
});

test("space as df counts it: used / (used + available to users), in fragment-size units", () => {
  const space = toSpace({ blocks: 1000, bfree: 300, bavail: 200, bsize: 4096, frsize: 1024, files: 100, ffree: 75 });
  expect(space).toEqual({ total: 1_024_000, used: 716_800, available: 204_800, percent: (700 / 900) * 100, inodesPercent: 25 });
});

test("a statfs that does not answer makes the path unavailable, and is not asked again while pending", async () => {
  let asked = 0;
  const space = createStatfs(10, () => (asked++, new Promise(() => {})));
  expect(await space("/nfs")).toEqual({ error: "statfs took more than 10 ms" });
  expect(await space("/nfs")).toEqual({ error: "statfs still pending from an earlier detect (hung mount?)" });
  expect(asked).toBe(1);
});

test("a path at 0 %: disk.high with severity high and df's numbers, reported once", async () => {
  const dir = temp.make();
  const { detect } = await start({ ...ALWAYS, paths: [dir] });
  const [event, ...rest] = await detect();
  expect(rest).toEqual([]);
  expect(event).toMatchObject({ type: "disk.high", severity: "high", dedupe_key: dir, tags: ["disk"], data: { mount: dir, level: "critical", warning: 0, critical: 0 } });
  const s = statfsSync(dir) as unknown as { blocks: number; bsize: number; frsize?: number };
  expect(event!.data!.total_bytes).toBe(s.blocks * (s.frsize || s.bsize));
  expect(await detect()).toEqual([]);
});

test("thresholds of 100 never fire", async () => {
  const { detect } = await start({ ...NEVER, paths: [temp.make()] });
  expect(await detect()).toEqual([]);
});

test("every mount of this machine not excluded, keyed by mount point", async () => {
  const { detect } = await start(ALWAYS);
  const events = await detect();
  const mounts = readMounts(DEFAULT_EXCLUDE_FS_TYPES, []).map((m) => m.mount);
  expect(mounts.length).toBeGreaterThan(0);
  expect(events.map((e) => e.dedupe_key)).toEqual(mounts);
  expect(events.every((e) => e.type === "disk.high" && typeof e.data?.fs_type === "string")).toBe(true);
});

test("a missing path is disk.unavailable until it exists", async () => {
  const path = join(temp.make(), "later");
  const { detect } = await start({ ...NEVER, paths: [path] });
  const [event, ...rest] = await detect();
  expect(rest).toEqual([]);
  expect(event).toMatchObject({ type: "disk.unavailable", severity: "medium", dedupe_key: `unavailable:${path}`, data: { mount: path } });
  expect(String(event!.data!.error)).toContain("ENOENT");
  expect(await detect()).toEqual([]);
  mkdirSync(path);
  expect(await detect()).toEqual([{ type: "disk.unavailable.resolved", severity: "low", dedupe_key: `unavailable:${path}`, tags: ["disk"], data: { mount: path }, id: expect.any(String) }]);
});

test("warning, critical, back, and a path no longer watched: one event each, across agent restarts", async () => {
  const [a, b] = [temp.make(), temp.make()];
  const home = temp.make();
  const once = async (local: Record<string, unknown>) => {
    const { instance, detect } = await start(local, home);
    const events = await detect();
    await instance.stop(within());
    return events.map((e) => `${e.type} ${e.severity} ${e.dedupe_key}${e.data?.reason ? ` (${e.data.reason})` : ""}`);
  };
  expect(await once({ paths: [a, b], warning: 0, critical: 100 })).toEqual([`disk.high medium ${a}`, `disk.high medium ${b}`]);
  expect(await once({ paths: [a, b], ...ALWAYS })).toEqual([`disk.high high ${a}`, `disk.high high ${b}`]);
  expect(await once({ paths: [a], ...NEVER })).toEqual([`disk.high.resolved low ${a}`, `disk.high.resolved low ${b} (no longer monitored)`]);
  expect(await once({ paths: [a, b], ...NEVER })).toEqual([]);
});

test("a bad configuration refuses to start", async () => {
  await expect(start({ warning: 95, critical: 90 })).rejects.toThrow("warning is above critical");
  await expect(start({ paths: ["relative/dir"] })).rejects.toThrow();
});

test("testdata/sample.yaml is a valid config for both plugin.yaml and the plugin", () => {
  const sample = (Bun.YAML.parse(readFileSync(join(import.meta.dir, "testdata", "sample.yaml"), "utf8")) as { plugins: { config: Record<string, unknown> } }).plugins.config[ID];
  expect(v.parse(ConfigSchema, sample) as Record<string, unknown>).toEqual(assertPluginConfig(MANIFEST, sample, `plugins.config.${ID}`));
});

test("plugin.yaml and the plugin's config schema agree on every default", () => {
  expect(v.parse(ConfigSchema, {}) as Record<string, unknown>).toEqual(assertPluginConfig(MANIFEST, {}, "x"));
});
