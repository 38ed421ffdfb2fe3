/** Levels process and strict with real processes: the plugin host re-executed, and bwrap (installed in CI). */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { PluginError } from "../errors.ts";
import { isGone, waitUntil } from "../stdio/_testkit.ts";
import type { DetectedEvent, PluginInstance, PluginLaunch } from "../types.ts";
import { createSandboxedInstance } from "./index.ts";
import { bwrapAvailable, cleanup, launchOf, pidsWithEnv, request, TESTDATA, tempHome, track, within } from "./_testkit.ts";
import type { SandboxLevel, SandboxOptions } from "./_options.ts";

afterEach(cleanup);

const WORKER_TESTDATA = path.join(import.meta.dir, "..", "worker", "testdata");
const MiB = 1024 * 1024;

async function started(launch: PluginLaunch, level: SandboxLevel, options: Partial<SandboxOptions> = {}): Promise<PluginInstance> {
  const instance = track(createSandboxedInstance(launch, level, options));
  await instance.start(within());
  return instance;
}

async function run(instance: PluginInstance, type: string, parameters: Record<string, unknown> = {}) {
  const result = await instance.execute(request(type, parameters), within());
  expect(result.status).toBe("completed");
  return result.data as Record<string, any>;
}

async function rejection(promise: Promise<unknown>): Promise<PluginError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PluginError);
  return error as PluginError;
}

describe("level process: a TypeScript plugin in `stavily plugin-host`", () => {
  test("runs in a process of its own and answers", async () => {
    const instance = await started(launchOf("probe.ts", "action"), "process");
    const { pid, env } = await run(instance, "whoami");
    expect(pid).not.toBe(process.pid);
    expect(isGone(pid)).toBe(false);
    expect(env.STAVILY_PLUGIN_ID).toBe("probe");
    await instance.stop(within());
    expect(await instance.exited).toMatchObject({ reason: "stopped", code: 0 });
  });

  test("sees a scrubbed environment: the agent's secrets are not in it", async () => {
    process.env.SANDBOX_TEST_SECRET = "s3cr3t";
    process.env.STAVILY_AGENT_TOKEN = "agent-token";
    try {
      const instance = await started(launchOf("probe.ts", "action", { env: { DECLARED: "yes" } }), "process");
      const { env } = await run(instance, "whoami");
      expect(env.SANDBOX_TEST_SECRET).toBeUndefined();
      expect(env.STAVILY_AGENT_TOKEN).toBeUndefined();
      expect(env.DECLARED).toBe("yes");
      expect(Object.values(env)).not.toContain("s3cr3t");
    } finally {
      delete process.env.SANDBOX_TEST_SECRET;
      delete process.env.STAVILY_AGENT_TOKEN;
    }
  });

  test("logs and stray prints go to the plugin log and onLog, never into the answers", async () => {
    const launch = launchOf("probe.ts", "action");
    const instance = await started(launch, "process");
    const lines: string[] = [];
    const result = await instance.execute(request("log"), { ...within(), onLog: (line) => lines.push(line) });
    expect(result).toEqual({ status: "completed", data: { logged: 2 } });
    expect(lines).toEqual(['info first line {"n":1}', "info a stray console.log", "a stray stdout write", "warn second line"]);
    await instance.stop(within());
    expect(fs.readFileSync(launch.logFile, "utf8")).toContain('stderr: info first line {"n":1}');
  });

  test("a plugin's error keeps its code and retryable flag", async () => {
    const instance = await started(launchOf("probe.ts", "action"), "process");
    expect(await instance.execute(request("fail"), within())).toEqual({
      status: "failed",
      error: { message: "refused on purpose", code: "permission_denied", retryable: true },
    });
  });

  test("a JS heap over limits.memory ends the plugin's process (checked every second, on every OS)", async () => {
    const launch = launchOf("probe.ts", "action", { limits: { memory: 64 * MiB, cpu: 0, execution_time: 0 } });
    const instance = await started(launch, "process");
    expect((await rejection(instance.execute(request("hold", { mb: 128 }), within()))).code).toBe("crashed");
    expect(await instance.exited).toMatchObject({ reason: "crashed", code: 3 });
    expect(fs.readFileSync(launch.logFile, "utf8")).toMatch(/memory limit: the plugin's JS heap is \d+ bytes, over limits.memory 67108864/);
  });

  // RLIMIT_DATA through prlimit: Linux only (README, "What each level enforces").
  test.if(process.platform === "linux")("an allocation loop under limits.memory ends the plugin's process; the agent is unaffected", async () => {
    const launch = launchOf("probe.ts", "action", { limits: { memory: 64 * MiB, cpu: 0, execution_time: 0 } });
    const before = process.memoryUsage().rss;
    const instance = await started(launch, "process");
    const error = await rejection(instance.execute(request("alloc"), within()));
    expect(error.code).toBe("crashed");
    expect(await instance.exited).toMatchObject({ reason: "crashed", code: 3 });
    expect(fs.readFileSync(launch.logFile, "utf8")).toContain("memory limit: out of memory under limits.memory 67108864");
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * MiB);
    // The agent goes on: a fresh instance of the same plugin starts and answers.
    expect((await run(await started(launchOf("probe.ts", "action"), "process"), "whoami")).pid).toBeGreaterThan(0);
  });

  test("a watch trigger's events are pushed to onEvent; detect and stop work", async () => {
    const launch = launchOf("trigger.ts", "trigger", { dir: WORKER_TESTDATA, entry: path.join(WORKER_TESTDATA, "trigger.ts") });
    const instance = track(createSandboxedInstance(launch, "process"));
    const first = new Promise<DetectedEvent>((resolve) => instance.onEvent(resolve));
    await instance.start(within());
    expect(await first).toMatchObject({ type: "watch.started", data: { instance: "agt_test" } });
    // The worker runtime's ids cross the relay as the events' own (not metadata.event_id).
    const uuid = expect.stringMatching(/^[\da-f]{8}-[\da-f]{4}-8[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/);
    expect(await instance.detect(within())).toEqual([
      { type: "cpu.high", severity: "medium", data: { load: 97.5 }, metadata: {}, dedupe_key: "cpu", id: uuid },
      { type: "mem.high", data: {}, metadata: {}, tags: ["x"], id: uuid },
    ]);
    await instance.stop(within());
    const log = fs.readFileSync(launch.logFile, "utf8");
    expect(log).toContain("warn watch: event dropped: invalid event");
    expect(log).toContain("info stopping");
    expect(await instance.exited).toMatchObject({ reason: "stopped" });
  });

  test("an output is sent batches and reports its health; its errors are plugin errors", async () => {
    const launch = launchOf("output.ts", "output", { dir: WORKER_TESTDATA, entry: path.join(WORKER_TESTDATA, "output.ts"), config: { degraded: true } });
    const instance = await started(launch, "process");
    await instance.send([{ a: 1 }, { b: 2 }], within());
    expect(await instance.health(within())).toEqual({ status: "degraded", message: "sent 2" });
    expect((await rejection(instance.send([], within()))).message).toContain("send failed: empty batch");
  });

  test("a built-in plugin (compiled in, `builtin:<id>`) runs the same way", async () => {
    const launch = launchOf("echo", "action", { dir: "builtin:echo", entry: "builtin:echo" });
    const instance = await started(launch, "process");
    const result = await instance.execute(request("echo", { message: "hi" }), within());
    expect(result.status).toBe("completed");
    expect(result.data).toMatchObject({ message: "hi" });
  });

  test("kill ends the plugin's process", async () => {
    const instance = await started(launchOf("probe.ts", "action"), "process");
    const { pid } = await run(instance, "whoami");
    instance.kill();
    expect(await instance.exited).toMatchObject({ reason: "killed" });
    await waitUntil(() => isGone(pid), 5_000, `pid ${pid} gone`);
  });

  test("a Python plugin runs as the stdio process it already is", async () => {
    const instance = await started(launchOf("probe_plugin.py", "action"), "process");
    const data = await run(instance, "read", { path: path.join(TESTDATA, "own.txt") });
    expect(data.text).toBe("visible to the plugin: its own dir\n");
    expect(data.pid).not.toBe(process.pid);
  });
});

describe("level strict: the plugin process inside bubblewrap", () => {
  let server: ReturnType<typeof Bun.serve>;
  beforeAll(() => {
    server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("hello from the host") });
  });
  afterAll(() => server.stop(true));

  test("sees its own dir, its work dir and its grants; nothing else exists", async () => {
    if (!bwrapAvailable()) return;
    const outside = tempHome();
    const secret = path.join(outside, "secret.txt");
    fs.writeFileSync(secret, "not for plugins");
    const granted = tempHome();
    fs.writeFileSync(path.join(granted, "granted.txt"), "granted to read");
    const writable = tempHome();
    const launch = launchOf("probe.ts", "action", {
      permissions: { network: false, filesystem: { read: [granted], write: [writable] }, exec: [], system_calls: [], capabilities: [] },
    });
    const instance = await started(launch, "strict");
    expect(await run(instance, "read", { path: secret })).toEqual({ code: "ENOENT" });
    expect(await run(instance, "read", { path: "/etc/passwd" })).toEqual({ code: "ENOENT" });
    expect(await run(instance, "read", { path: path.join(granted, "granted.txt") })).toEqual({ text: "granted to read" });
    expect(await run(instance, "read", { path: path.join(TESTDATA, "own.txt") })).toEqual({ text: "visible to the plugin: its own dir\n" });
    expect(await run(instance, "write", { path: path.join(writable, "out.txt"), text: "written" })).toEqual({ written: true });
    expect(fs.readFileSync(path.join(writable, "out.txt"), "utf8")).toBe("written");
    expect(await run(instance, "write", { path: path.join(launch.workDir, "work.txt"), text: "w" })).toEqual({ written: true });
    expect(await run(instance, "write", { path: path.join(granted, "nope.txt"), text: "w" })).toEqual({ code: "EROFS" });
    expect(await run(instance, "write", { path: path.join(TESTDATA, "nope.txt"), text: "w" })).toEqual({ code: "EROFS" });
    const { env, pid } = await run(instance, "whoami");
    expect(env.HOME).toBe(launch.workDir);
    expect(pid).toBeLessThan(10); // its own pid namespace
  });

  test("has no network without permissions.network; with it, reaches the host's loopback", async () => {
    if (!bwrapAvailable()) return;
    const url = `http://127.0.0.1:${server.port}/`;
    const closed = await started(launchOf("probe.ts", "action"), "strict");
    expect((await run(closed, "fetch", { url })).failed).toBeString();
    // The same plugin code at level process is not stopped: the namespace is what blocks it.
    expect(await run(await started(launchOf("probe.ts", "action"), "process"), "fetch", { url })).toEqual({ status: 200, body: "hello from the host" });
    const network = { network: true, filesystem: { read: [], write: [] }, exec: [], system_calls: [], capabilities: [] };
    const open = await started(launchOf("probe.ts", "action", { permissions: network }), "strict");
    expect(await run(open, "fetch", { url })).toEqual({ status: 200, body: "hello from the host" });
    // security.sandbox.network_access false wins over the plugin's permission.
    const forbidden = await started(launchOf("probe.ts", "action", { permissions: network }), "strict", { networkAccess: false });
    expect((await run(forbidden, "fetch", { url })).failed).toBeString();
  });

  test("an external plugin importing stavily/sdk loads inside", async () => {
    if (!bwrapAvailable()) return;
    const launch = launchOf("external-sdk.js", "action", { dir: WORKER_TESTDATA, entry: path.join(WORKER_TESTDATA, "external-sdk.js") });
    const instance = await started(launch, "strict");
    expect(await run(instance, "any")).toEqual({ sdk: "function" });
    expect(await instance.execute(request("retry"), within())).toMatchObject({ status: "failed", error: { message: "try later", retryable: true } });
  });

  test("a Python stdio plugin runs inside too, with its interpreter and nothing else", async () => {
    if (!bwrapAvailable()) return;
    const outside = tempHome();
    fs.writeFileSync(path.join(outside, "secret.txt"), "not for plugins");
    const instance = await started(launchOf("probe_plugin.py", "action"), "strict");
    expect((await run(instance, "read", { path: path.join(TESTDATA, "own.txt") })).text).toBe("visible to the plugin: its own dir\n");
    expect(await run(instance, "read", { path: path.join(outside, "secret.txt") })).toEqual({ errno: 2, error: "FileNotFoundError" });
    await instance.stop(within());
    expect(await instance.exited).toMatchObject({ reason: "stopped", code: 0 });
  });

  test("kill ends every process of the sandbox", async () => {
    if (!bwrapAvailable()) return;
    const launch = launchOf("probe.ts", "action");
    const instance = await started(launch, "strict");
    const marker = `STAVILY_WORK_DIR=${launch.workDir}`;
    // bwrap outside, its init and the plugin host inside.
    expect(pidsWithEnv(marker).length).toBeGreaterThanOrEqual(2);
    instance.kill();
    expect(await instance.exited).toMatchObject({ reason: "killed" });
    await waitUntil(() => pidsWithEnv(marker).every(isGone), 5_000, "every sandboxed process gone");
  });

  test("limits.memory holds inside too", async () => {
    if (!bwrapAvailable()) return;
    const launch = launchOf("probe.ts", "action", { limits: { memory: 64 * MiB, cpu: 0, execution_time: 0 } });
    const instance = await started(launch, "strict");
    expect((await rejection(instance.execute(request("alloc"), within()))).code).toBe("crashed");
    expect(await instance.exited).toMatchObject({ reason: "crashed", code: 3 });
  });
});
