/**
 * process-monitor through the real worker runtime against real processes: a `sleep` with a
 * command line no other process has, started and killed by the test, so every outcome is certain.
 */
import { afterEach, expect, test } from "bun:test";
import { readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { assertPluginConfig, parseBuiltinManifest } from "../../../src/core/plugin/manifest/index.ts";
import { createWorkerInstance } from "../../../src/core/plugin/worker/index.ts";
import { instances, makeLaunch, recordingLogger, tempDirs, within } from "../../../src/core/plugin/worker/_test-support.ts";
import { BUILTIN_PLUGINS } from "../../all.ts";
import { ConfigSchema } from "./_config.ts";
import { machineTicks, nameMatches, parseRss, parseStat } from "./_proc.ts";

const ID = "process-monitor";
const MANIFEST = parseBuiltinManifest(ID, BUILTIN_PLUGINS[ID]!.manifest);
const temp = tempDirs();
const running = instances();
const children: Bun.Subprocess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) await end(child);
  await running.cleanup();
  temp.cleanup();
});

/** Starts the built-in as the sensor would, with `local` as plugins.config.process-monitor. */
async function start(local: Record<string, unknown>) {
  const config = assertPluginConfig(MANIFEST, local, `plugins.config.${ID}`);
  const instance = running.track(createWorkerInstance(makeLaunch(temp.make(), `builtin:${ID}`, "trigger", { config }), { logger: recordingLogger() }));
  await instance.start(within());
  return () => instance.detect(within());
}

/** `sleep 300 0.<digits>`: GNU sleep adds its arguments, so the second only makes the command line unique. */
function uniqueSleep() {
  const marker = `0.${Date.now()}${Math.floor(Math.random() * 1e6)}`;
  return { marker, pattern: `^sleep 300 ${marker.replace(".", "\\.")}$`, spawn: () => spawn(["sleep", "300", marker]) };
}

/** Resolves once the child runs `argv` (Bun.spawn returns before the exec: until then it is a copy of bun). */
async function spawn(argv: string[]): Promise<Bun.Subprocess> {
  const child = Bun.spawn(argv, { stdio: ["ignore", "ignore", "ignore"] });
  children.push(child);
  const wanted = `${argv.join("\0")}\0`;
  while (readFileSync(`/proc/${child.pid}/cmdline`, "latin1") !== wanted) await Bun.sleep(1);
  return child;
}

/** Kills and reaps it, so no zombie is left for the next detect. */
async function end(child: Bun.Subprocess) {
  child.kill("SIGKILL");
  await child.exited;
}

const types = (events: { type: string; severity?: string }[]) => events.map((e) => `${e.type} ${e.severity}`);

test("/proc parsing: stat with an awkward comm, VmRSS, machine ticks, long names", () => {
  expect(parseStat(readFileSync(join(import.meta.dir, "testdata", "stat"), "utf8"))).toEqual({ state: "S", ppid: 1, ticks: 200, start: 987654 });
  expect(parseRss("Name:\tx\nVmRSS:\t    2048 kB\n")).toBe(2_097_152);
  expect(parseRss("Name:\tkworker/0:1\n")).toBe(0);
  expect(machineTicks("cpu  10 0 5 80 5 0 0 0 3 0\ncpu0 5 0 2 40 3 0 0 0 0 0\ncpu1 5 0 3 40 2 0 0 0 0 0\nintr 1\n")).toEqual({ ticks: 100, cpus: 2 });
  expect(nameMatches("systemd-journald", "systemd-journal", () => "/usr/lib/systemd/systemd-journald\0")).toBe(true);
  expect(nameMatches("systemd-journald", "systemd-journal", () => "/usr/lib/systemd/systemd-journalX\0")).toBe(false);
  expect(nameMatches("nginx", "nginx", () => undefined)).toBe(true);
});

test("expect running: process.absent, resolved with the pid when it starts, absent again when it dies", async () => {
  const sleeper = uniqueSleep();
  const detect = await start({ pattern: sleeper.pattern });
  const [absent, ...rest] = await detect();
  expect(rest).toEqual([]);
  expect(absent).toEqual({ type: "process.absent", severity: "high", dedupe_key: "absent", tags: ["process"], data: { pattern: sleeper.pattern, pids: [], count: 0, processes: [], expect: "running" }, id: expect.any(String) });
  expect(await detect()).toEqual([]);

  const child = await sleeper.spawn();
  const [back] = await detect();
  expect(back).toMatchObject({ type: "process.absent.resolved", severity: "low", dedupe_key: "absent", data: { pids: [child.pid], count: 1, processes: [{ pid: child.pid, name: "sleep", command: `sleep 300 ${sleeper.marker}` }] } });
  expect(await detect()).toEqual([]);

  await end(child);
  expect(types(await detect())).toEqual(["process.absent high"]);
});

test("expect stopped: process.present with the pids, resolved once it is gone", async () => {
  const sleeper = uniqueSleep();
  const child = await sleeper.spawn();
  const detect = await start({ pattern: sleeper.pattern, expect: "stopped", severity: "critical" });
  const [present] = await detect();
  expect(present).toMatchObject({ type: "process.present", severity: "critical", dedupe_key: "present", data: { pids: [child.pid], expect: "stopped" } });
  expect(await detect()).toEqual([]);
  await end(child);
  expect(types(await detect())).toEqual(["process.present.resolved low"]);
  expect(await detect()).toEqual([]);
});

test("max_memory_mb 0: every live process is over, with its resident memory", async () => {
  const sleeper = uniqueSleep();
  const child = await sleeper.spawn();
  const detect = await start({ pattern: sleeper.pattern, max_memory_mb: 0 });
  const [over, ...rest] = await detect();
  expect(rest).toEqual([]);
  expect(over).toMatchObject({ type: "process.memory.high", severity: "medium", dedupe_key: "memory", data: { pids: [child.pid], max_memory_mb: 0 } });
  expect((over!.data!.processes as { memory_mb: number }[])[0]!.memory_mb).toBeGreaterThan(0);
  await end(child);
  // Gone: no process is over any more; and it should be running, so it is absent.
  expect(types(await detect()).sort()).toEqual(["process.absent high", "process.memory.high.resolved low"]);
});

test("max_cpu_percent: a busy loop is over 0 % once measured twice, and 1000 % is never reached", async () => {
  const marker = `stavily-busy-${Date.now()}${Math.floor(Math.random() * 1e6)}`;
  const busy = await spawn(["sh", "-c", "while :; do :; done", marker]);
  const pattern = `^sh -c while :; do :; done ${marker}$`;
  const detectLow = await start({ pattern, max_cpu_percent: 0 });
  const detectHigh = await start({ pattern, max_cpu_percent: 1000 });
  // The first detect only takes the starting reading.
  expect(await detectLow()).toEqual([]);
  expect(await detectHigh()).toEqual([]);
  await cpuTicksPassed(busy.pid);
  const [over, ...rest] = await detectLow();
  expect(rest).toEqual([]);
  expect(over).toMatchObject({ type: "process.cpu.high", severity: "medium", dedupe_key: "cpu", data: { pids: [busy.pid], max_cpu_percent: 0 } });
  expect((over!.data!.processes as { cpu_percent: number }[])[0]!.cpu_percent).toBeGreaterThan(0);
  expect(await detectHigh()).toEqual([]);
  await end(busy);
  expect(types(await detectLow()).sort()).toEqual(["process.absent high", "process.cpu.high.resolved low"]);
});

test("by name: a short name is comm, a long one (cut to 15 in comm) is checked against argv[0]", async () => {
  const dir = temp.make();
  const suffix = Math.floor(Math.random() * 1e6).toString(36);
  const short = `stv-${suffix}`.slice(0, 15);
  const long = `stavily-test-sleeper-${suffix}`;
  for (const name of [short, long]) symlinkSync(Bun.which("sleep")!, join(dir, name));
  const children_ = [await spawn([join(dir, short), "300"]), await spawn([join(dir, long), "300"])];
  for (const [name, child] of [[short, children_[0]!], [long, children_[1]!]] as const) {
    const detect = await start({ name, expect: "stopped" });
    expect(await detect()).toMatchObject([{ type: "process.present", data: { name, pids: [child.pid] } }]);
  }
  // The first 15 characters of the long name alone are not a match.
  const detect = await start({ name: long.slice(0, 15) + "x" });
  expect(types(await detect())).toEqual(["process.absent high"]);
});

test("the agent and the processes that started it never match, though their command lines hold the pattern", async () => {
  // This test process started the worker, and its command line (or its runner's) is what matches.
  const own = readFileSync(`/proc/${process.pid}/cmdline`, "latin1").split("\0").filter(Boolean);
  const word = own.at(-1)!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const detect = await start({ pattern: word, expect: "stopped" });
  const events = await detect();
  const pids = events.flatMap((e) => (e.data?.pids as number[]) ?? []);
  expect(pids).not.toContain(process.pid);
  expect(pids).not.toContain(process.ppid);
});

test("name and pattern: exactly one, and the pattern must compile", async () => {
  await expect(start({})).rejects.toThrow("set exactly one of name and pattern");
  await expect(start({ name: "a", pattern: "b" })).rejects.toThrow("set exactly one of name and pattern");
  await expect(start({ pattern: "(" })).rejects.toThrow("expected a regular expression");
});

test("testdata/sample.yaml is a valid config for both plugin.yaml and the plugin", () => {
  const sample = (Bun.YAML.parse(readFileSync(join(import.meta.dir, "testdata", "sample.yaml"), "utf8")) as { plugins: { config: Record<string, unknown> } }).plugins.config[ID];
  expect(v.parse(ConfigSchema, sample) as Record<string, unknown>).toEqual(assertPluginConfig(MANIFEST, sample, `plugins.config.${ID}`));
});

test("plugin.yaml and the plugin's config schema agree on every default", () => {
  const minimal = { name: "nginx" };
  expect(v.parse(ConfigSchema, minimal) as Record<string, unknown>).toEqual(assertPluginConfig(MANIFEST, minimal, "x"));
});

/** Waits (polling /proc) until the process has been charged CPU time and the machine's clock moved. */
async function cpuTicksPassed(pid: number) {
  const read = () => ({ process: parseStat(readFileSync(`/proc/${pid}/stat`, "utf8")).ticks, machine: machineTicks(readFileSync("/proc/stat", "utf8")).ticks });
  const first = read();
  for (;;) {
    const now = read();
    if (now.process > first.process && now.machine > first.machine) return;
    await Bun.sleep(2);
  }
}
