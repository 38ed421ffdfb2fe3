import { afterEach, expect, test } from "bun:test";
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { assertPluginConfig, parseManifest, pluginConfigSchema } from "../../../src/core/plugin/manifest/index.ts";
import type { DetectedEvent, PluginInstance } from "../../../src/core/plugin/types.ts";
import { instances, startAsAgent, tempDirs, within } from "../../../src/core/plugin/worker/_test-support.ts";
import { ConfigSchema } from "./_schema.ts";

const MANIFEST = parseManifest(readFileSync(join(import.meta.dir, "plugin.yaml"), "utf8"), join(import.meta.dir, "plugin.yaml"));

const temp = tempDirs();
const running = instances();
afterEach(async () => {
  await running.cleanup();
  temp.cleanup();
});

/** The built-in as an agent starts it: config checked against plugin.yaml, paths granted through config:paths. */
const start = (home: string, config: Record<string, unknown>) => startAsAgent(running, home, MANIFEST, config);

/** [type, path relative to dir] of each event. */
const changes = async (instance: PluginInstance, dir: string) =>
  (await instance.detect(within())).map((event: DetectedEvent) => [event.type, String(event.data?.path).slice(dir.length + 1)]);

function setup() {
  const home = temp.make();
  const dir = join(home, "watched");
  mkdirSync(join(dir, "sub"), { recursive: true });
  writeFileSync(join(dir, "keep.txt"), "same");
  writeFileSync(join(dir, "edit.conf"), "v1");
  writeFileSync(join(dir, "sub", "gone.txt"), "bye");
  return { home, dir };
}

test("the first run takes the snapshot; then created, modified and deleted files are reported", async () => {
  const { home, dir } = setup();
  const watch = await start(home, { paths: [dir] });
  expect(await watch.detect(within())).toEqual([]);
  writeFileSync(join(dir, "sub", "new.txt"), "hello");
  writeFileSync(join(dir, "edit.conf"), "version 2");
  rmSync(join(dir, "sub", "gone.txt"));
  const events = await watch.detect(within());
  expect(events.map((e) => [e.type, e.data?.path])).toEqual([
    ["file.modified", join(dir, "edit.conf")],
    ["file.deleted", join(dir, "sub", "gone.txt")],
    ["file.created", join(dir, "sub", "new.txt")],
  ]);
  expect(events[0]).toMatchObject({ dedupe_key: `file.modified:${join(dir, "edit.conf")}`, data: { size: 9, previous_size: 2, replaced: false } });
  expect(events[1]!.data).toMatchObject({ size: 3 });
  expect(events[2]!.data).toMatchObject({ size: 5, mtime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
  expect(await watch.detect(within())).toEqual([]);
});

test("a modification that keeps the size is seen by its mtime; a file renamed over another is replaced", async () => {
  const { home, dir } = setup();
  const watch = await start(home, { paths: [dir] });
  await watch.detect(within());
  utimesSync(join(dir, "keep.txt"), new Date("2030-01-01T00:00:00Z"), new Date("2030-01-01T00:00:00Z"));
  writeFileSync(join(dir, "edit.conf.tmp"), "v2");
  renameSync(join(dir, "edit.conf.tmp"), join(dir, "edit.conf"));
  const events = await watch.detect(within());
  expect(events.map((e) => [e.type, String(e.data?.path).slice(dir.length + 1), e.data?.replaced])).toEqual([
    ["file.modified", "edit.conf", true],
    ["file.modified", "keep.txt", false],
  ]);
  expect(events[1]!.data?.mtime).toBe("2030-01-01T00:00:00.000Z");
});

test("globs and exclude choose the files; an excluded directory is not entered", async () => {
  const { home, dir } = setup();
  mkdirSync(join(dir, "cache"));
  const watch = await start(home, { paths: [dir], globs: ["**/*.log", "*.conf"], exclude: ["cache/**"] });
  await watch.detect(within());
  writeFileSync(join(dir, "other.txt"), "x");
  writeFileSync(join(dir, "sub", "app.log"), "x");
  writeFileSync(join(dir, "sub", "nested.conf"), "x"); // *.conf is the top level only
  writeFileSync(join(dir, "cache", "hit.log"), "x");
  writeFileSync(join(dir, "edit.conf"), "v2!");
  expect(await changes(watch, dir)).toEqual([["file.modified", "edit.conf"], ["file.created", "sub/app.log"]]);
});

test("restart: the saved snapshot makes the first detect report what changed while stopped", async () => {
  const { home, dir } = setup();
  const first = await start(home, { paths: [dir] });
  await first.detect(within());
  await first.stop(within());
  writeFileSync(join(dir, "while-down.txt"), "x");
  rmSync(join(dir, "keep.txt"));
  const second = await start(home, { paths: [dir] });
  expect(await changes(second, dir)).toEqual([["file.deleted", "keep.txt"], ["file.created", "while-down.txt"]]);
  expect(await changes(second, dir)).toEqual([]);
});

test("max_events defers the rest to the next detects; report_existing reports the first scan", async () => {
  const { home, dir } = setup();
  const watch = await start(home, { paths: [dir], report_existing: true, max_events: 2 });
  expect(await changes(watch, dir)).toEqual([["file.created", "edit.conf"], ["file.created", "keep.txt"]]);
  expect(await changes(watch, dir)).toEqual([["file.created", "sub/gone.txt"]]);
  expect(await changes(watch, dir)).toEqual([]);
});

test("a single file can be watched; a missing path reports its files deleted and then created again", async () => {
  const { home, dir } = setup();
  const file = join(dir, "edit.conf");
  const watch = await start(home, { paths: [file] });
  await watch.detect(within());
  rmSync(file);
  expect((await watch.detect(within())).map((e) => [e.type, e.data?.path])).toEqual([["file.deleted", file]]);
  writeFileSync(file, "back");
  expect((await watch.detect(within())).map((e) => [e.type, e.data?.path])).toEqual([["file.created", file]]);
});

test("a symlink leading outside the watched paths is ignored; one inside counts", async () => {
  const { home, dir } = setup();
  const secret = join(home, "secret.txt");
  writeFileSync(secret, "outside");
  const watch = await start(home, { paths: [dir] });
  await watch.detect(within());
  symlinkSync(secret, join(dir, "escape.txt"));
  symlinkSync(join(dir, "keep.txt"), join(dir, "alias.txt"));
  expect(await changes(watch, dir)).toEqual([["file.created", "alias.txt"]]);
});

test("a changed configuration retakes the snapshot instead of reporting every file", async () => {
  const { home, dir } = setup();
  await (await start(home, { paths: [dir] })).detect(within());
  await running.cleanup();
  const narrowed = await start(home, { paths: [dir], globs: ["*.conf"] });
  expect(await narrowed.detect(within())).toEqual([]);
  writeFileSync(join(dir, "edit.conf"), "v2!");
  expect(await changes(narrowed, dir)).toEqual([["file.modified", "edit.conf"]]);
});

test("plugin.yaml and the config schema agree on every default", () => {
  const config = { paths: ["/etc"] };
  expect(v.parse(ConfigSchema, config)).toEqual(v.parse(pluginConfigSchema(MANIFEST), config) as never);
});

test("testdata/sample.yaml is a valid config for both plugin.yaml and the plugin", () => {
  const sample = (Bun.YAML.parse(readFileSync(join(import.meta.dir, "testdata", "sample.yaml"), "utf8")) as { sensor: { triggers: { config: Record<string, unknown> }[] } }).sensor.triggers[0]!.config;
  expect(v.parse(ConfigSchema, sample) as Record<string, unknown>).toEqual(assertPluginConfig(MANIFEST, sample, "sensor.triggers.0.config"));
});
