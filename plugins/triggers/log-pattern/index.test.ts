import { afterEach, expect, test } from "bun:test";
import { appendFileSync, readFileSync, renameSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { assertPluginConfig, parseManifest, pluginConfigSchema } from "../../../src/core/plugin/manifest/index.ts";
import type { PluginInstance } from "../../../src/core/plugin/types.ts";
import { instances, startAsAgent, tempDirs, within } from "../../../src/core/plugin/worker/_test-support.ts";
import { ConfigSchema } from "./_schema.ts";

const MANIFEST = parseManifest(readFileSync(join(import.meta.dir, "plugin.yaml"), "utf8"), join(import.meta.dir, "plugin.yaml"));

const temp = tempDirs();
const running = instances();
afterEach(async () => {
  await running.cleanup();
  temp.cleanup();
});

/** The built-in as an agent starts it: config checked against plugin.yaml, the file granted through config:path. */
const start = (home: string, config: Record<string, unknown>) => startAsAgent(running, home, MANIFEST, config);

const lines = async (instance: PluginInstance) => (await instance.detect(within())).map((event) => event.data?.line);

function setup(initial = "") {
  const home = temp.make();
  const log = join(home, "app.log");
  writeFileSync(log, initial);
  return { home, log, append: (text: string) => appendFileSync(log, text) };
}

test("reports matching lines appended after start, with positional and named groups", async () => {
  const { home, log, append } = setup("ERROR old line before start\n");
  const tail = await start(home, { path: log, pattern: "ERROR (?<code>E\\d+) (\\w+)" });
  expect(await tail.detect(within())).toEqual([]);
  append("INFO fine\nERROR E42 disk full\nERROR E7 oops\n");
  const events = await tail.detect(within());
  expect(events).toEqual([
    { type: "log.match", data: { path: log, line: "ERROR E42 disk full", offset: 38, truncated: false, groups: ["E42", "disk"], named: { code: "E42" } }, id: expect.any(String) },
    { type: "log.match", data: { path: log, line: "ERROR E7 oops", offset: 58, truncated: false, groups: ["E7", "oops"], named: { code: "E7" } }, id: expect.any(String) },
  ]);
  expect(await tail.detect(within())).toEqual([]);
});

test("start_at beginning reads the history; ignore_case; CRLF lines", async () => {
  const { home, log } = setup("error one\r\nok\nError two\n");
  const tail = await start(home, { path: log, pattern: "^error", ignore_case: true, start_at: "beginning" });
  expect(await lines(tail)).toEqual(["error one", "Error two"]);
});

test("a partial last line is not consumed until its newline comes", async () => {
  const { home, append } = setup();
  const tail = await start(home, { path: join(home, "app.log"), pattern: "ERROR (.*)" });
  append("ERROR half");
  expect(await lines(tail)).toEqual([]);
  append(" and the rest\n");
  expect(await lines(tail)).toEqual(["ERROR half and the rest"]);
});

test("rotation: the rest of the renamed file is read, then the new file from its start", async () => {
  const { home, log, append } = setup();
  const tail = await start(home, { path: log, pattern: "ERROR" });
  append("ERROR 1\n");
  expect(await lines(tail)).toEqual(["ERROR 1"]);
  append("ERROR 2\n");
  renameSync(log, `${log}.1`);
  appendFileSync(`${log}.1`, "ERROR 3 written before the writer reopened"); // no newline: the old file is finished anyway
  writeFileSync(log, "ERROR 4 in the new file\n");
  expect(await lines(tail)).toEqual(["ERROR 2", "ERROR 3 written before the writer reopened", "ERROR 4 in the new file"]);
  append("ERROR 5\n");
  expect(await lines(tail)).toEqual(["ERROR 5"]);
});

test("rotation with no new file yet: the old one is finished, the new one read from 0 when it appears", async () => {
  const { home, log, append } = setup();
  const tail = await start(home, { path: log, pattern: "ERROR" });
  await tail.detect(within());
  append("ERROR a\n");
  renameSync(log, `${log}.1`);
  expect(await lines(tail)).toEqual(["ERROR a"]);
  expect(await lines(tail)).toEqual([]);
  writeFileSync(log, "ERROR b\n");
  expect(await lines(tail)).toEqual(["ERROR b"]);
});

test("truncation (copytruncate): reads again from the start", async () => {
  const { home, log, append } = setup();
  const tail = await start(home, { path: log, pattern: "ERROR" });
  append("ERROR long line before truncation\n");
  expect(await lines(tail)).toEqual(["ERROR long line before truncation"]);
  truncateSync(log, 0);
  append("ERROR x\n");
  expect(await lines(tail)).toEqual(["ERROR x"]);
});

test("restart: a new instance with the same state neither skips nor repeats lines", async () => {
  const { home, append } = setup();
  const config = { path: join(home, "app.log"), pattern: "ERROR" };
  const first = await start(home, config);
  append("ERROR 1\nERROR 2\nERROR part");
  expect(await lines(first)).toEqual(["ERROR 1", "ERROR 2"]);
  await first.stop(within());
  append("ial\nERROR 3 while stopped\n");
  const second = await start(home, config);
  expect(await lines(second)).toEqual(["ERROR partial", "ERROR 3 while stopped"]);
  expect(await lines(second)).toEqual([]);
});

test("caps: long lines are cut and marked; the byte budget and max_events defer lines, never drop them", async () => {
  const { home, append } = setup();
  const tail = await start(home, { path: join(home, "app.log"), pattern: "^E", max_line_bytes: 64, max_bytes_per_detect: 4096, max_events: 2 });
  const long = `E${"x".repeat(5000)}`;
  append(`${long}\nE1\nE2\nE3\n`);
  const first = await tail.detect(within());
  expect(first.map((e) => [e.data?.line, e.data?.truncated])).toEqual([[long.slice(0, 64), true]]); // the budget ran out inside the long line
  expect(await lines(tail)).toEqual(["E1", "E2"]); // max_events
  expect(await lines(tail)).toEqual(["E3"]);
});

test("a long line without its newline yet is cut, and its rest skipped when it comes", async () => {
  const { home, append } = setup();
  const tail = await start(home, { path: join(home, "app.log"), pattern: "^E", max_line_bytes: 64, max_bytes_per_detect: 4096 });
  append(`E${"y".repeat(100)}`);
  expect((await tail.detect(within())).map((e) => e.data?.truncated)).toEqual([true]);
  append("E still the same line\nE next\n");
  expect(await lines(tail)).toEqual(["E next"]);
});

test("a missing file reports nothing until it appears, then it is read from the start", async () => {
  const home = temp.make();
  const log = join(home, "later.log");
  const tail = await start(home, { path: log, pattern: "ERROR", start_at: "beginning" });
  expect(await lines(tail)).toEqual([]);
  writeFileSync(log, "ERROR here\n");
  expect(await lines(tail)).toEqual(["ERROR here"]);
});

test("an invalid pattern refuses to start, naming it", async () => {
  const home = temp.make();
  const attempt = start(home, { path: join(home, "x.log"), pattern: "ERROR (unclosed" });
  await expect(attempt).rejects.toThrow('log-pattern: pattern "ERROR (unclosed" is not a valid regular expression');
});

test("plugin.yaml and the config schema agree on every default", () => {
  const config = { path: "/var/log/x.log", pattern: "x" };
  expect(v.parse(ConfigSchema, config)).toEqual(v.parse(pluginConfigSchema(MANIFEST), config) as never);
});

test("testdata/sample.yaml is a valid config for both plugin.yaml and the plugin", () => {
  const sample = (Bun.YAML.parse(readFileSync(join(import.meta.dir, "testdata", "sample.yaml"), "utf8")) as { sensor: { triggers: { config: Record<string, unknown> }[] } }).sensor.triggers[0]!.config;
  expect(v.parse(ConfigSchema, sample) as Record<string, unknown>).toEqual(assertPluginConfig(MANIFEST, sample, "sensor.triggers.0.config"));
});
