import { afterAll, afterEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { PluginError } from "../errors.ts";
import type { ActionRequest, PluginInstance, PluginLaunch } from "../types.ts";
import { isGone, makeLaunch, nextLine, removeTempDirs, TESTDATA, tempDir, waitUntil, within } from "./_testkit.ts";
import { createStdioInstance, type StdioDeps } from "./index.ts";

const live: PluginInstance[] = [];
afterEach(async () => {
  const ending = live.splice(0);
  for (const instance of ending) instance.kill();
  await Promise.all(ending.map((instance) => instance.exited));
});
afterAll(removeTempDirs);

async function started(overrides: Partial<PluginLaunch> = {}, deps: StdioDeps = {}) {
  const instance = createStdioInstance(makeLaunch(overrides), { ...deps, options: { killGraceMs: 300, ...deps.options } });
  live.push(instance);
  await instance.start(within(10_000));
  return instance;
}

const action = (type: string, parameters: Record<string, unknown> = {}): ActionRequest => ({
  id: `req-${type}`,
  type,
  parameters,
  context: { workflow: "wf-1" },
  variables: {},
  timeout: 30,
  metadata: {},
});

async function rejection(promise: Promise<unknown>): Promise<PluginError> {
  const error = await promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(PluginError);
  return error as PluginError;
}

describe("python plugins (the Stavily stdio protocol)", () => {
  test("a trigger produces an event from its config", async () => {
    const trigger = await started({ config: { value: 95, threshold: 80 } });
    const events = await trigger.detect(within(5000));
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event).toMatchObject({ type: "demo.high", severity: "high", data: { value: 95, threshold: 80 }, tags: ["test", "demo"] });
    expect(event?.metadata).toMatchObject({ plugin_id: "demo", source: "demo" });
    expect(String(event?.metadata?.event_id)).toStartWith("demo-high-");
  });

  test("a trigger with nothing to report answers no events", async () => {
    const trigger = await started({ config: { value: 10, threshold: 80 } });
    expect(await trigger.detect(within(5000))).toEqual([]);
    expect(await trigger.health(within(5000))).toEqual({ status: "healthy", message: "running" });
  });

  test("initialize passes the launch config", async () => {
    const launch = makeLaunch({ config: { threshold: 12, nested: { list: [1, 2] } } });
    const instance = createStdioInstance(launch);
    live.push(instance);
    await instance.start(within(10_000));
    await instance.stop(within(5000));
    const log = fs.readFileSync(launch.logFile, "utf8");
    expect(log).toContain('initialized with {"nested": {"list": [1, 2]}, "threshold": 12}');
    expect(fs.statSync(launch.logFile).mode & 0o777).toBe(0o640);
  });

  test("a refused initialize fails start and ends the process", async () => {
    const instance = createStdioInstance(makeLaunch({ config: { refuse: true } }), { options: { killGraceMs: 300 } });
    live.push(instance);
    const error = await rejection(instance.start(within(10_000)));
    expect(error.code).toBe("plugin_error");
    expect(error.message).toContain("initialize failed");
    expect((await instance.exited).reason).toBe("killed");
  });

  test("an action returns its result and streams its stderr lines", async () => {
    const actor = await started({ kind: "action" });
    const lines: string[] = [];
    const result = await actor.execute(action("echo", { service: "nginx", lines: 3 }), { ...within(5000), onLog: (line) => lines.push(line) });
    expect(result).toEqual({ status: "completed", data: { parameters: { service: "nginx", lines: 3 }, context: { workflow: "wf-1" }, timeout: 30 } });
    expect(lines).toEqual(["INFO working step 1", "INFO working step 2", "INFO working step 3"]);
  });

  test("a failed action is a failed result, not a rejection", async () => {
    const actor = await started({ kind: "action" });
    const result = await actor.execute(action("fail", { service: "nope" }), within(5000));
    expect(result).toEqual({ status: "failed", error: { message: "service nope not found", code: "plugin_error" } });
  });

  test("requests are answered in order, one at a time", async () => {
    const actor = await started({ kind: "action" });
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => actor.execute({ ...action("echo", { n }), id: `r${n}` }, within(5000))));
    expect(results.map((r) => r.data?.parameters)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }, { n: 5 }]);
  });

  test("a handler that raises is a plugin_error; the plugin stays usable", async () => {
    const actor = await started({ kind: "action" });
    const error = await rejection(actor.execute(action("raise"), within(5000)));
    expect(error.code).toBe("plugin_error");
    expect(error.message).toContain("Plugin error: boom");
    expect((await actor.execute(action("echo"), within(5000))).status).toBe("completed");
  });

  test("an answer with the wrong action or shape is invalid_output", async () => {
    const actor = await started({ kind: "action" });
    expect((await rejection(actor.execute(action("wrong_action"), within(5000)))).code).toBe("invalid_output");
    const bad = await rejection(actor.execute(action("bad_shape"), within(5000)));
    expect(bad.code).toBe("invalid_output");
    expect(bad.message).toContain("success");
    expect((await actor.execute(action("echo"), within(5000))).status).toBe("completed");
  });

  test("garbage on stdout is logged, not fatal; long lines and floods are capped", async () => {
    const launch = makeLaunch({ kind: "action" });
    const actor = createStdioInstance(launch, { options: { maxLogLineBytes: 100, logLinesPerSecond: 50, maxAnswerBytes: 64 * 1024 } });
    live.push(actor);
    await actor.start(within(10_000));
    const lines: string[] = [];
    const result = await actor.execute(action("noise", { long: 200_000, stderr_lines: 500 }), { ...within(5000), onLog: (line) => lines.push(line) });
    expect(result).toEqual({ status: "completed", data: { ok: true } });
    expect(lines.length).toBeLessThanOrEqual(50);
    await actor.stop(within(5000));
    const log = fs.readFileSync(launch.logFile, "utf8");
    expect(log).toContain("stdout: this is not JSON");
    expect(log).toContain("stdout: 42");
    expect(log).toContain(`stdout: ${"x".repeat(100)} …[200000 bytes]`);
    expect(log).toMatch(/host: \d+ output lines dropped \(over 50 lines\/s\)/);
    expect(log.length).toBeLessThan(20_000);
  });
});

describe("other runtimes", () => {
  test("a bash trigger works", async () => {
    const trigger = await started({ runtime: "bash", entry: path.join(TESTDATA, "bash_plugin.sh") });
    expect(await trigger.detect(within(5000))).toEqual([{ type: "bash.tick", severity: "low", data: { count: 1, plugin: "demo" }, metadata: {} }]);
    expect((await trigger.detect(within(5000)))[0]?.data).toEqual({ count: 2, plugin: "demo" });
    await trigger.stop(within(5000));
    expect((await trigger.exited).reason).toBe("stopped");
  });

  test("an executable runs its entry itself", async () => {
    const dir = tempDir();
    const entry = path.join(dir, "plugin");
    fs.copyFileSync(path.join(TESTDATA, "bash_plugin.sh"), entry);
    fs.chmodSync(entry, 0o755);
    const trigger = await started({ runtime: "executable", entry });
    expect((await trigger.detect(within(5000)))[0]?.type).toBe("bash.tick");
  });

  test("a node action works", async () => {
    const actor = await started({ kind: "action", runtime: "node", entry: path.join(TESTDATA, "node_plugin.mjs") });
    const lines: string[] = [];
    const result = await actor.execute(action("echo", { a: 1 }), { ...within(5000), onLog: (line) => lines.push(line) });
    expect(result).toEqual({ status: "completed", data: { echoed: { a: 1 }, runtime: "node" } });
    expect(lines).toEqual(["node plugin: running echo"]);
  });

  test("a missing entry fails start with spawn_failed", async () => {
    const instance = createStdioInstance(makeLaunch({ runtime: "executable", entry: "/nonexistent/plugin" }));
    expect((await rejection(instance.start(within(5000)))).code).toBe("spawn_failed");
    expect((await instance.exited).reason).toBe("crashed");
  });
});

describe("misbehaving plugins", () => {
  test("a hang times out at the deadline; kill() ends the plugin and its grandchild", async () => {
    const actor = await started({ kind: "action" });
    const grandchild = nextLine(/grandchild (\d+)/, 5000);
    const started_at = Date.now();
    const call = actor.execute(action("fork_and_hang"), { deadline: started_at + 1500, onLog: grandchild.onLine });
    const pid = Number((await grandchild.found)[1]);
    expect(isGone(pid)).toBe(false);
    const error = await rejection(call);
    expect(error.code).toBe("timeout");
    const elapsed = Date.now() - started_at;
    expect(elapsed).toBeGreaterThanOrEqual(1490);
    expect(elapsed).toBeLessThan(2500);
    // Requests queued behind the hung one time out too, each at its own deadline.
    expect((await rejection(actor.health(within(200)))).code).toBe("timeout");
    actor.kill();
    const exit = await actor.exited;
    expect(exit.reason).toBe("killed");
    await waitUntil(() => isGone(pid), 3000, `grandchild ${pid} gone`);
    expect((await rejection(actor.health(within(1000)))).code).toBe("killed");
  });

  test("kill() escalates to SIGKILL for a plugin and grandchild that ignore SIGTERM", async () => {
    const actor = await started({ kind: "action" });
    const grandchild = nextLine(/grandchild (\d+)/, 5000);
    const call = rejection(actor.execute(action("stubborn"), { ...within(10_000), onLog: grandchild.onLine }));
    const pid = Number((await grandchild.found)[1]);
    actor.kill();
    expect((await call).code).toBe("killed");
    expect(await actor.exited).toEqual({ reason: "killed", code: null, message: "killed by SIGKILL" });
    await waitUntil(() => isGone(pid), 3000, `grandchild ${pid} gone`);
  });

  test("a plugin that dies during start is reported crashed", async () => {
    const instance = createStdioInstance(makeLaunch({ runtime: "bash", entry: path.join(TESTDATA, "exit_at_start.sh") }));
    live.push(instance);
    const error = await rejection(instance.start(within(5000)));
    expect(error.code).toBe("crashed");
    expect(error.message).toContain("exited with code 4");
    expect(await instance.exited).toEqual({ reason: "crashed", code: 4, message: "exited with code 4" });
  });

  test("a late answer is discarded, not given to the next request", async () => {
    const actor = await started({ kind: "action" });
    expect((await rejection(actor.execute(action("late", { seconds: 0.5 }), within(100)))).code).toBe("timeout");
    const result = await actor.execute(action("echo", { after: true }), within(5000));
    expect(result.data?.parameters).toEqual({ after: true });
  });

  test("an abort rejects the call as cancelled", async () => {
    const actor = await started({ kind: "action" });
    const controller = new AbortController();
    const call = actor.execute(action("late", { seconds: 0.3 }), { ...within(5000), signal: controller.signal });
    controller.abort();
    expect((await rejection(call)).code).toBe("cancelled");
    expect((await actor.execute(action("echo"), within(5000))).status).toBe("completed");
  });

  test("a plugin that exits mid-call: pending calls reject as crashed and exited resolves", async () => {
    const actor = await started({ kind: "action" });
    const inFlight = actor.execute(action("exit", { code: 3 }), within(5000));
    const queued = actor.health(within(5000));
    expect((await rejection(inFlight)).code).toBe("crashed");
    expect((await rejection(queued)).code).toBe("crashed");
    expect(await actor.exited).toEqual({ reason: "crashed", code: 3, message: "exited with code 3" });
    expect((await rejection(actor.detect(within(1000)))).code).toBe("crashed");
  });

  test("a plugin allocating without bound dies under the memory limit", async () => {
    const actor = await started({ kind: "action", limits: { memory: 256 * 1024 * 1024, cpu: 0, execution_time: 0 } });
    const lines: string[] = [];
    const error = await rejection(actor.execute(action("hog", { cap_mb: 4096 }), { ...within(20_000), onLog: (line) => lines.push(line) }));
    expect(error.code).toBe("crashed");
    const exit = await actor.exited;
    expect(exit.reason).toBe("crashed");
    expect(exit.code).toBe(1);
    expect(lines.join("\n")).toContain("MemoryError");
    // The host is unharmed and starts the next plugin as usual.
    const next = await started({ kind: "action" });
    expect((await next.execute(action("echo"), within(5000))).status).toBe("completed");
  });

  test("the same plugin without a limit allocates what it asks for", async () => {
    const actor = await started({ kind: "action" });
    expect(await actor.execute(action("hog", { cap_mb: 300 }), within(20_000))).toMatchObject({ data: { allocated_mb: 300 } });
  });
});

describe("environment", () => {
  test("the child sees a scrubbed environment with its STAVILY_ context", async () => {
    const parentEnv = { PATH: process.env.PATH, HOME: "/home/agent", LANG: "C.UTF-8", STAVILY_AGENT_TOKEN: "secret-agent-token", AWS_SECRET_ACCESS_KEY: "aws" };
    const launch = makeLaunch({ kind: "action", env: { PLUGIN_MODE: "test", STAVILY_AGENT_TOKEN: "smuggled" } });
    const actor = createStdioInstance(launch, { parentEnv });
    live.push(actor);
    await actor.start(within(10_000));
    const result = await actor.execute(action("env"), within(5000));
    const env = result.data?.env as Record<string, string>;
    expect(result.data?.cwd).toBe(fs.realpathSync(launch.workDir));
    expect(env).toMatchObject({
      HOME: "/home/agent",
      LANG: "C.UTF-8",
      PLUGIN_MODE: "test",
      STAVILY_PLUGIN_ID: "demo",
      STAVILY_PLUGIN_INSTANCE: "demo-1",
      STAVILY_AGENT_ID: "agent-7",
      STAVILY_WORK_DIR: launch.workDir,
      STAVILY_STATE_DIR: launch.stateDir,
    });
    expect(env.STAVILY_AGENT_TOKEN).toBeUndefined();
    expect(env.AWS_SECRET_ACCESS_KEY).toBeUndefined();
    await actor.stop(within(5000));
    expect(fs.readFileSync(launch.logFile, "utf8")).toContain("env ignored (the STAVILY_ namespace is the host's): STAVILY_AGENT_TOKEN");
  });

  test("the agent's own token in its process environment does not reach the child", async () => {
    const saved = process.env.STAVILY_AGENT_TOKEN;
    process.env.STAVILY_AGENT_TOKEN = "agent-token-from-process-env";
    try {
      const actor = await started({ kind: "action" });
      const env = (await actor.execute(action("env"), within(5000))).data?.env as Record<string, string>;
      expect(Object.values(env)).not.toContain("agent-token-from-process-env");
      expect(env.PATH).toBe(process.env.PATH ?? "");
    } finally {
      if (saved === undefined) delete process.env.STAVILY_AGENT_TOKEN;
      else process.env.STAVILY_AGENT_TOKEN = saved;
    }
  });
});

describe("lifecycle", () => {
  test("stop asks the plugin to stop, closes stdin and resolves exited as stopped", async () => {
    const trigger = await started();
    await trigger.stop(within(5000));
    expect(await trigger.exited).toEqual({ reason: "stopped", code: 0, message: "exited with code 0" });
  });

  test("stop kills a hung plugin at its deadline", async () => {
    const actor = await started({ kind: "action" });
    const hung = rejection(actor.execute(action("hang"), within(10_000)));
    const began = Date.now();
    await actor.stop(within(1000));
    expect(Date.now() - began).toBeLessThan(2000);
    expect((await actor.exited).reason).toBe("killed");
    expect((await hung).code).toBe("stopped");
  });

  test("kill before start and stop before start end the instance", async () => {
    const a = createStdioInstance(makeLaunch());
    a.kill();
    expect((await a.exited).reason).toBe("killed");
    expect((await rejection(a.start(within(1000)))).code).toBe("plugin_error");
    const b = createStdioInstance(makeLaunch());
    await b.stop(within(1000));
    expect((await b.exited).reason).toBe("stopped");
  });

  test("send is not part of the stdio protocol", async () => {
    const instance = await started();
    expect((await rejection(instance.send([{}], within(1000)))).code).toBe("unsupported");
  });
});
