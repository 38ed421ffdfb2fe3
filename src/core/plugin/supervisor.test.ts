/**
 * The supervisor's promises, checked against every runtime with real plugins: a TS plugin in a
 * Worker and a Python plugin over the stdio protocol misbehave in the same ways.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeLaunch as stdioLaunch, removeTempDirs } from "./stdio/_testkit.ts";
import { createStdioInstance } from "./stdio/index.ts";
import { supervisePlugin, type SupervisedPlugin } from "./supervisor.ts";
import type { ActionRequest, PluginHostFactory, PluginLaunch } from "./types.ts";
import { makeLaunch as workerLaunch, recordingLogger } from "./worker/_test-support.ts";
import { createWorkerInstance } from "./worker/index.ts";

interface Runtime {
  name: string;
  launch: (home: string) => PluginLaunch;
  factory: PluginHostFactory;
  /** Request types: completes; exits mid-call; hangs ignoring any abort; logs a line, then hangs so. */
  types: { ok: string; exit: string; hang: string; busy: string };
}

const RUNTIMES: Runtime[] = [
  {
    name: "worker (TypeScript)",
    launch: (home) => workerLaunch(home, "misbehave.ts", "action"),
    factory: (launch) => createWorkerInstance(launch),
    types: { ok: "ok", exit: "exit", hang: "loop", busy: "busy" },
  },
  {
    name: "stdio (Python)",
    launch: () => stdioLaunch({ kind: "action" }),
    factory: (launch) => createStdioInstance(launch),
    types: { ok: "echo", exit: "exit", hang: "hang", busy: "hang" },
  },
];

const homes: string[] = [];
const running: SupervisedPlugin[] = [];
afterEach(async () => {
  await Promise.allSettled(running.splice(0).map((plugin) => plugin.stop()));
  for (const home of homes.splice(0)) rmSync(home, { recursive: true, force: true });
  removeTempDirs();
});

const request = (type: string): ActionRequest => ({ id: `r-${type}`, type, parameters: {}, context: {}, variables: {}, timeout: 0, metadata: {} });

async function supervised(runtime: Runtime, extra: { maxCrashes?: number } = {}) {
  const home = mkdtempSync(join(tmpdir(), "stavily-supervisor-"));
  homes.push(home);
  const logger = recordingLogger();
  const quarantines: string[] = [];
  const plugin = supervisePlugin({
    launch: runtime.launch(home),
    factory: runtime.factory,
    logger,
    controlTimeoutMs: 10_000,
    defaultCallTimeoutMs: 10_000,
    graceMs: 200,
    restartBaseMs: 10,
    restartCapMs: 50,
    maxCrashes: extra.maxCrashes ?? 5,
    onQuarantine: (reason) => quarantines.push(reason),
  });
  running.push(plugin);
  await plugin.start();
  return { plugin, logger, quarantines };
}

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => "resolved",
    (error: { code?: string }) => error.code,
  );

for (const runtime of RUNTIMES) {
  describe(`supervisor over ${runtime.name}`, () => {
    test("a crash mid-call fails that call; the plugin is restarted and serves the next one", async () => {
      const { plugin } = await supervised(runtime);
      expect(await codeOf(plugin.execute(request(runtime.types.exit)))).toBe("crashed");
      expect((await plugin.execute(request(runtime.types.ok))).status).toBe("completed");
      expect(plugin.stats).toMatchObject({ runs: 2, failures: 1, crashes: 1, restarts: 1 });
      expect(plugin.state).toBe("running");
    });

    test("a hang past the time limit is aborted, killed after the grace period, and the plugin serves again", async () => {
      const { plugin } = await supervised(runtime);
      expect(await codeOf(plugin.execute(request(runtime.types.hang), { timeoutMs: 300 }))).toBe("timeout");
      expect(plugin.stats).toMatchObject({ timeouts: 1, kills: 1 });
      expect((await plugin.execute(request(runtime.types.ok))).status).toBe("completed");
    });

    test("repeated crashes quarantine it: calls fail at once, health is unhealthy, until reload", async () => {
      const { plugin, quarantines } = await supervised(runtime, { maxCrashes: 2 });
      for (let i = 0; i < 3; i++) await codeOf(plugin.execute(request(runtime.types.exit)));
      expect(plugin.state).toBe("quarantined");
      expect(quarantines).toHaveLength(1);
      expect(quarantines[0]).toMatch(/^3 crashes in 10 min; last: /);
      expect(await codeOf(plugin.execute(request(runtime.types.ok)))).toBe("quarantined");
      expect((await plugin.health()).status).toBe("unhealthy");

      await plugin.reload();
      expect(plugin.state).toBe("running");
      expect((await plugin.execute(request(runtime.types.ok))).status).toBe("completed");
    });

    test("a call cancelled before it starts fails with code cancelled and reaches no plugin", async () => {
      const { plugin } = await supervised(runtime);
      const controller = new AbortController();
      const call = plugin.execute(request(runtime.types.hang), { signal: controller.signal });
      controller.abort();
      expect(await codeOf(call)).toBe("cancelled");
      expect(plugin.stats).toMatchObject({ runs: 0, kills: 0 });
    });

    test("a call cancelled while it runs is killed after the grace period if the plugin ignores it", async () => {
      const { plugin } = await supervised(runtime);
      const controller = new AbortController();
      // The plugin's first log line says it is running; that is when the orchestrator cancels.
      const call = plugin.execute(request(runtime.types.busy), { signal: controller.signal, onLog: () => controller.abort() });
      expect(await codeOf(call)).toBe("cancelled");
      expect(plugin.stats).toMatchObject({ runs: 1, kills: 1 });
      expect((await plugin.execute(request(runtime.types.ok))).status).toBe("completed");
    });
  });
}

describe("supervisor over stdio, one request at a time", () => {
  test("a call that reaches its time limit while queued behind a slow one times out without killing the plugin", async () => {
    const { plugin } = await supervised(RUNTIMES[1]!);
    const slow = plugin.execute({ ...request("late"), parameters: { seconds: 1 } }, { timeoutMs: 5_000 });
    expect(await codeOf(plugin.execute(request("echo"), { timeoutMs: 300 }))).toBe("timeout");
    expect((await slow).status).toBe("completed");
    expect(plugin.stats).toMatchObject({ kills: 0, timeouts: 1 });
  });
});

describe("supervisor timers", () => {
  test("no wait leaves a timer behind: a process whose plugin crashed exits once the supervisor stops", async () => {
    // A crash mid-call (the wait for the end) and a call during the restart (the wait for it), with
    // 20 s limits, then stop: the process must end at once, not when the 20 s timers would have fired.
    const script = join(mkdtempSync(join(tmpdir(), "stavily-supervisor-")), "timers.ts");
    homes.push(join(script, ".."));
    await Bun.write(
      script,
      `
      import { supervisePlugin } from ${JSON.stringify(join(import.meta.dir, "supervisor.ts"))};
      import { PluginError } from ${JSON.stringify(join(import.meta.dir, "errors.ts"))};
      const launch = { id: "fake", instance: "fake", limits: { memory: 0, cpu: 0, execution_time: 0 } };
      const factory = () => {
        let finish;
        const exited = new Promise((resolve) => (finish = resolve));
        return {
          launch, exited, onEvent() {}, async start() {},
          async execute() { finish({ reason: "crashed", code: 1 }); throw new PluginError("fake", { code: "crashed", message: "crashed" }); },
          kill() { finish({ reason: "killed" }); }, async stop() { finish({ reason: "stopped" }); },
        };
      };
      const logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, child() { return logger; } };
      const plugin = supervisePlugin({ launch, factory, logger, controlTimeoutMs: 20_000, defaultCallTimeoutMs: 20_000, graceMs: 100, restartBaseMs: 10, restartCapMs: 10 });
      await plugin.start();
      const request = { id: "r", type: "t", parameters: {}, context: {}, variables: {}, timeout: 0, metadata: {} };
      await plugin.execute(request).catch(() => {});
      await plugin.execute(request).catch(() => {});
      await plugin.stop();
      `,
    );
    const started = Date.now();
    const child = Bun.spawn([process.execPath, script], { stdout: "inherit", stderr: "inherit" });
    expect(await child.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
