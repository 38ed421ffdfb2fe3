/**
 * file through the real worker runtime, writing real files in a temp dir: appends, rotation by
 * size over many batches (no line lost, split or moved out of its batch), pruning and gzip.
 */
import { afterEach, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { listBackups } from "../../../src/core/log/_backups.ts";
import * as v from "valibot";
import { assertPluginConfig, parseBuiltinManifest } from "../../../src/core/plugin/manifest/index.ts";
import { createWorkerInstance } from "../../../src/core/plugin/worker/index.ts";
import { instances, makeLaunch, recordingLogger, tempDirs, within } from "../../../src/core/plugin/worker/_test-support.ts";
import { BUILTIN_PLUGINS } from "../../all.ts";
import { ConfigSchema } from "./_config.ts";

const ID = "file";
const MANIFEST = parseBuiltinManifest(ID, BUILTIN_PLUGINS[ID]!.manifest);
const temp = tempDirs();
const running = instances();
afterEach(async () => {
  await running.cleanup();
  temp.cleanup();
});

/** Starts the built-in as the sensor would, with `local` as its config, writing under a fresh dir. */
async function start(local: Record<string, unknown>) {
  const home = temp.make();
  const dir = join(home, "out");
  mkdirSync(dir);
  const path = join(dir, "events.jsonl");
  const config = assertPluginConfig(MANIFEST, { path, ...local }, `plugins.config.${ID}`);
  const logger = recordingLogger();
  const instance = running.track(createWorkerInstance(makeLaunch(home, `builtin:${ID}`, "output", { config, permissions: { ...permissions(), filesystem: { read: [], write: [path] } } }), { logger }));
  await instance.start(within());
  return { instance, dir, path, logger };
}

const permissions = () => ({ network: false, filesystem: { read: [], write: [] as string[] }, exec: [], system_calls: [], capabilities: [] });
const event = (batch: number, index: number, pad = "") => ({ id: `evt_${batch}_${index}`, type: "test", source: "t", timestamp: "2026-11-25T12:00:00.000Z", data: { batch, index, pad } });

/** The backups in rotation order (names alone do not sort: `-001` marks a second rotation in one ms), then the live file. */
async function oldestFirst(path: string): Promise<string[]> {
  const { backups } = await listBackups(path);
  return [...backups.reverse().map((backup) => backup.gz ?? backup.plain!), path];
}

test("each batch is appended as JSON lines", async () => {
  const { instance, path } = await start({});
  await instance.send([event(1, 0), event(1, 1)], within());
  await instance.send([event(2, 0, "new\nline")], within());
  expect(readFileSync(path, "utf8")).toBe([event(1, 0), event(1, 1), event(2, 0, "new\nline")].map((e) => `${JSON.stringify(e)}\n`).join(""));
  expect(statSync(path).mode & 0o777).toBe(0o640);
});

test("rotation by size over many batches: every line once, whole, in order, each batch in one file", async () => {
  const { instance, dir, path } = await start({ max_size: "4KiB", max_backups: 0, fsync: true });
  const sent: ReturnType<typeof event>[] = [];
  for (let b = 0; b < 150; b++) {
    // 1–7 events of ~100–400 bytes: batches straddle the size limit at every offset.
    const batch = Array.from({ length: 1 + (b % 7) }, (_, i) => event(b, i, "x".repeat((b * 37 + i * 11) % 300)));
    sent.push(...batch);
    await instance.send(batch, within());
  }
  await instance.stop(within());

  const files = await oldestFirst(path);
  expect(readdirSync(dir)).toHaveLength(files.length);
  expect(files.length).toBeGreaterThan(20);
  const received: ReturnType<typeof event>[] = [];
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    expect(text.endsWith("\n")).toBe(true);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
    const lines = text.slice(0, -1).split("\n").map((line) => JSON.parse(line));
    // A file starts with the first event of a batch: no batch is split across two files.
    expect(lines[0].data.index).toBe(0);
    received.push(...lines);
  }
  expect(received).toEqual(sent);
});

test("max_backups prunes the oldest and compress gzips the rest, whole", async () => {
  const { instance, dir, path } = await start({ max_size: "1KiB", max_backups: 2, compress: true });
  for (let b = 0; b < 20; b++) await instance.send([event(b, 0, "y".repeat(400)), event(b, 1, "y".repeat(400))], within());
  await instance.stop(within()); // waits for compression and pruning

  const files = await oldestFirst(path);
  expect(readdirSync(dir)).toHaveLength(3);
  expect(files.slice(0, -1).every((file) => /\/events\.jsonl\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z(-\d{3})?\.gz$/.test(file))).toBe(true);
  const lines = files
    .map((file) => (file.endsWith(".gz") ? gunzipSync(readFileSync(file)).toString() : readFileSync(file, "utf8")))
    .join("")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line).data.batch);
  // The newest three files: the last batches, each whole, in order.
  expect(lines).toEqual([17, 17, 18, 18, 19, 19]);
});

test("a missing or unwritable directory fails the start, naming it", async () => {
  const home = temp.make();
  const missing = join(home, "nope", "events.jsonl");
  const launch = (path: string) => makeLaunch(home, `builtin:${ID}`, "output", { config: assertPluginConfig(MANIFEST, { path }, "x") });
  const a = running.track(createWorkerInstance(launch(missing), { logger: recordingLogger() }));
  await expect(a.start(within())).rejects.toThrow(`file: the directory of path, ${join(home, "nope")}, does not exist`);

  if (process.getuid?.() === 0) return; // root writes anywhere: the check below cannot fail for root
  const locked = join(home, "locked");
  mkdirSync(locked, { mode: 0o500 });
  const b = running.track(createWorkerInstance(launch(join(locked, "events.jsonl")), { logger: recordingLogger() }));
  await expect(b.start(within())).rejects.toThrow(`file: the directory of path, ${locked}, is not writable`);
  chmodSync(locked, 0o700);
});

test("a bad max_size or max_age is refused at start", async () => {
  await expect(start({ max_size: "lots" })).rejects.toThrow(/max_size.*expected a size like 100MiB/);
  await expect(start({ max_age: "soon" })).rejects.toThrow(/max_age.*expected a duration like 30d/);
});

test("plugin.yaml and the plugin's config schema agree on every default", () => {
  const parsed = v.parse(ConfigSchema, { path: "/x" });
  expect(parsed).toEqual({ path: "/x", max_size: 100 * 1024 * 1024, max_backups: 5, max_age: 30 * 86_400_000, compress: false, fsync: false });
  expect(v.parse(ConfigSchema, assertPluginConfig(MANIFEST, { path: "/x" }, "x"))).toEqual(parsed);
});
