import { afterEach, describe, expect, test } from "bun:test";
import { PluginError } from "../errors.ts";
import type { DetectedEvent } from "../types.ts";
import { instances, makeLaunch, recordingLogger, request, settleWithin, tempDirs, within } from "./_test-support.ts";
import { createWorkerInstance } from "./host.ts";

const temp = tempDirs();
const running = instances();
afterEach(async () => {
  await running.cleanup();
  temp.cleanup();
});

async function started(entry: string, kind: "trigger" | "action" | "output", config: Record<string, unknown> = {}) {
  const logger = recordingLogger();
  const instance = running.track(createWorkerInstance(makeLaunch(temp.make(), entry, kind, { config }), { logger }));
  return { instance, logger };
}

async function rejection(promise: Promise<unknown>): Promise<PluginError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PluginError);
  return error as PluginError;
}

/** The worker runtime's id of a detect event: a UUIDv8 (context/_state.ts). */
const RUN_ID = expect.stringMatching(/^[\da-f]{8}-[\da-f]{4}-8[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/);

describe("triggers", () => {
  test("detect returns the plugin's events, checked, each with the worker's id", async () => {
    const { instance } = await started("trigger.ts", "trigger");
    await instance.start(within());
    const events = await instance.detect(within());
    expect(events).toEqual([
      { type: "cpu.high", severity: "medium", data: { load: 97.5 }, dedupe_key: "cpu", id: RUN_ID },
      { type: "mem.high", tags: ["x"], id: RUN_ID },
    ]);
    expect(events[0]!.id).not.toBe(events[1]!.id);
  });

  test("one event or none are returned as a list", async () => {
    const one = await started("trigger.ts", "trigger", { mode: "one" });
    await one.instance.start(within());
    expect(await one.instance.detect(within())).toMatchObject([{ type: "disk.full", severity: "high" }]);
    const none = await started("trigger.ts", "trigger", { mode: "none" });
    await none.instance.start(within());
    expect(await none.instance.detect(within())).toEqual([]);
  });

  test("watch pushes events to onEvent; an invalid one is dropped and logged", async () => {
    const { instance, logger } = await started("trigger.ts", "trigger");
    const first = new Promise<DetectedEvent>((resolve) => instance.onEvent(resolve));
    await instance.start(within());
    expect(await settleWithin(first, 5_000, "watch event")).toEqual({ type: "watch.started", data: { instance: "agt_test" } });
    await instance.stop(within());
    expect(logger.lines.some((line) => line.msg.startsWith("watch: event dropped: invalid event"))).toBe(true);
    expect(logger.lines).toContainEqual(expect.objectContaining({ level: "info", msg: "stopping" }));
    expect(await instance.exited).toMatchObject({ reason: "stopped" });
  });

  test("garbage from detect is invalid_output, never passed on", async () => {
    const { instance } = await started("trigger.ts", "trigger", { mode: "garbage" });
    await instance.start(within());
    const error = await rejection(instance.detect(within()));
    expect(error.code).toBe("invalid_output");
    expect(error.message).toContain("invalid event 1 at type");
  });

  test("a run's ctx.state is committed at the next run or at stop; after a kill the run repeats, ids and all", async () => {
    const home = temp.make();
    const launch = makeLaunch(home, "trigger.ts", "trigger", { config: { mode: "count" } });
    const run = async (end: "kill" | "stop", runs: number) => {
      const instance = running.track(createWorkerInstance(launch, { logger: recordingLogger() }));
      await instance.start(within());
      const events = [];
      for (let i = 0; i < runs; i++) events.push(...(await instance.detect(within())));
      if (end === "stop") await instance.stop(within());
      else instance.kill();
      await instance.exited;
      return events.map((event) => ({ n: event.data?.n, id: event.id }));
    };
    const [zero, one] = await run("kill", 2); // run 0 committed when run 1 began; run 1 never
    expect(zero!.n).toBe(0);
    expect(await run("stop", 1)).toEqual([one!]); // the same run again, with the same id, then committed at stop
    const [two] = await run("kill", 1);
    expect(two!.n).toBe(2);
    expect(new Set([zero!.id, one!.id, two!.id]).size).toBe(3);
  });

  test("a detect that throws rejects with plugin_error; the next run works", async () => {
    const { instance } = await started("trigger.ts", "trigger", { mode: "throw-once" });
    await instance.start(within());
    const error = await rejection(instance.detect(within()));
    expect(error).toMatchObject({ code: "plugin_error", message: "plugin trigger: detect: first run fails" });
    expect(await instance.detect(within())).toEqual([{ type: "recovered", id: RUN_ID }]);
  });
});

describe("actions", () => {
  test("execute returns the result and streams log lines to onLog and the plugin log", async () => {
    const { instance, logger } = await started("misbehave.ts", "action");
    await instance.start(within());
    const lines: string[] = [];
    const result = await instance.execute(request("ok", { n: 1 }), { ...within(), onLog: (line) => lines.push(line) });
    expect(result).toEqual({ status: "completed", data: { echoed: { n: 1 } } });
    expect(lines).toEqual(['info working {"step":1}', "warn almost done"]);
    expect(logger.lines.map((l) => [l.level, l.msg, l.component])).toEqual([
      ["info", "working", "misbehave"],
      ["warn", "almost done", "misbehave"],
    ]);
  });

  test("the worker sees only the declared environment, not the agent's", async () => {
    process.env.STAVILY_TEST_SECRET = "agent token";
    try {
      const launch = makeLaunch(temp.make(), "misbehave.ts", "action", { env: { DECLARED: "yes" } });
      const instance = running.track(createWorkerInstance(launch, { logger: recordingLogger() }));
      await instance.start(within());
      expect(await instance.execute(request("env"), within())).toEqual({ status: "completed", data: { secret: null, declared: "yes" } });
    } finally {
      delete process.env.STAVILY_TEST_SECRET;
    }
  });

  test("console.log in a plugin goes to the plugin log", async () => {
    const { instance, logger } = await started("misbehave.ts", "action");
    await instance.start(within());
    await instance.execute(request("console"), within());
    expect(logger.lines).toContainEqual(expect.objectContaining({ level: "info", msg: expect.stringMatching(/^from console.log \{\s+a: 1,?\s+\}$/) }));
  });

  test("a thrown error is a failed result, retryable when marked; the instance stays usable", async () => {
    const { instance } = await started("misbehave.ts", "action");
    await instance.start(within());
    expect(await instance.execute(request("throw"), within())).toEqual({
      status: "failed",
      error: { message: "the disk is on fire", code: "plugin_error", retryable: false },
    });
    expect(await instance.execute(request("retryable"), within())).toMatchObject({ status: "failed", error: { retryable: true } });
    expect(await instance.execute(request("fail-status"), within())).toEqual({ status: "failed", data: { reason: "declined" } });
    expect(await instance.execute(request("ok"), within())).toMatchObject({ status: "completed" });
  });

  test("garbage or unsendable output is invalid_output", async () => {
    const { instance } = await started("misbehave.ts", "action");
    await instance.start(within());
    expect(await rejection(instance.execute(request("garbage"), within()))).toMatchObject({ code: "invalid_output" });
    const unclonable = await rejection(instance.execute(request("unclonable"), within()));
    expect(unclonable.code).toBe("invalid_output");
    expect(unclonable.message).toContain("cannot be sent");
    expect(await instance.execute(request("ok"), within())).toMatchObject({ status: "completed" });
  });

  test("the caller's abort reaches ctx.signal, and the plugin's answer on its way out is kept", async () => {
    const { instance } = await started("misbehave.ts", "action");
    await instance.start(within());
    const controller = new AbortController();
    const call = instance.execute(request("wait-abort"), { ...within(), signal: controller.signal });
    controller.abort();
    expect(await call).toMatchObject({ data: { aborted: true } });
  });

  test("log floods are capped and the drop is counted", async () => {
    const logger = recordingLogger();
    const instance = running.track(
      createWorkerInstance(makeLaunch(temp.make(), "misbehave.ts", "action"), { logger, flood: { linesPerSecond: 10, bytesPerSecond: 1 << 20 } }),
    );
    await instance.start(within());
    const lines: string[] = [];
    await instance.execute(request("flood", { lines: 500 }), { ...within(), onLog: (line) => lines.push(line) });
    expect(lines.length).toBeLessThanOrEqual(20); // two windows at most during one call
    expect(logger.lines.filter((l) => l.msg.startsWith("line ")).length).toBe(lines.length);
    await instance.stop(within());
    const dropped = logger.lines.filter((l) => l.msg.startsWith("log lines dropped")).map((l) => l.fields?.dropped as number);
    expect(dropped.reduce((a, b) => a + b, 0)).toBe(500 - lines.length);
  });
});

describe("outputs, health and stop", () => {
  test("send delivers a batch; health reports what the plugin says", async () => {
    const { instance } = await started("output.ts", "output", { degraded: true });
    await instance.start(within());
    await instance.send([{ a: 1 }, { b: 2 }], within());
    expect(await instance.health(within())).toEqual({ status: "degraded", message: "sent 2" });
    expect(await rejection(instance.send([], within()))).toMatchObject({ code: "plugin_error", message: "plugin output: send: empty batch" });
    await instance.stop(within());
    expect(await instance.exited).toMatchObject({ reason: "stopped" });
  });

  test("a stop hook that hangs is cut off at the deadline and the worker killed", async () => {
    const { instance } = await started("output.ts", "output", { hangOnStop: true });
    await instance.start(within());
    expect(await rejection(instance.stop({ deadline: Date.now() + 200 }))).toMatchObject({ code: "timeout" });
    expect(await instance.exited).toMatchObject({ reason: "killed" });
  });
});

describe("a misbehaving plugin", () => {
  test("an endless loop times out at its deadline, and kill() ends the worker", async () => {
    const { instance } = await started("misbehave.ts", "action");
    await instance.start(within());
    const deadline = Date.now() + 300;
    const error = await rejection(instance.execute(request("loop"), { deadline }));
    expect(error.code).toBe("timeout");
    expect(Date.now() - deadline).toBeLessThan(1_000);
    instance.kill();
    expect(await settleWithin(instance.exited, 5_000, "exit after kill")).toMatchObject({ reason: "killed" });
    expect(await rejection(instance.health(within()))).toMatchObject({ code: "killed" });
  });

  for (const [type, message] of [
    ["exit", "the worker exited by itself (code 3)"],
    ["uncaught", "uncaught in the worker: error: thrown from a timer"],
    ["reject", "uncaught in the worker: error: nobody catches this"],
  ] as const) {
    test(`${type}: pending calls reject "crashed", exited resolves, this process goes on`, async () => {
      const { instance } = await started("misbehave.ts", "action");
      await instance.start(within());
      const pending = instance.execute(request("wait-abort"), within(10_000)).catch((e: unknown) => e);
      const error = await rejection(instance.execute(request(type), within(10_000)));
      expect(error.code).toBe("crashed");
      expect(error.message).toContain(message);
      expect(await pending).toMatchObject({ code: "crashed" });
      const exit = await settleWithin(instance.exited, 5_000, "exit");
      expect(exit.reason).toBe(type === "exit" ? "exited" : "crashed");
      expect(await rejection(instance.detect(within()))).toMatchObject({ code: "crashed" });
    });
  }

  test("a JS heap over limits.memory ends the worker (soft limit, checked by the host)", async () => {
    const logger = recordingLogger();
    const launch = makeLaunch(temp.make(), "misbehave.ts", "action", { limits: { memory: 32 * 1024 * 1024, cpu: 0, execution_time: 0 } });
    const instance = running.track(createWorkerInstance(launch, { logger, heapReportMs: 50 }));
    await instance.start(within());
    const error = await rejection(instance.execute(request("hog"), within(20_000)));
    expect(error.code).toBe("memory_limit");
    expect(await settleWithin(instance.exited, 5_000, "exit")).toMatchObject({ reason: "crashed", message: expect.stringContaining("memory limit") });
  }, 30_000);

  test("a module that is not a plugin fails start with invalid_plugin", async () => {
    const { instance } = await started("_not-a-plugin.ts", "action");
    expect(await rejection(instance.start(within()))).toMatchObject({ code: "invalid_plugin" });
  });
});

describe("built-ins and config", () => {
  test("the echo built-in runs from the registry with its validated config", async () => {
    const { instance } = await started("builtin:echo", "action", { prefix: "> " });
    await instance.start(within());
    expect(await instance.execute(request("echo", { message: "hi" }), within())).toMatchObject({
      status: "completed",
      data: { message: "> hi", parameters: { message: "hi" }, agent: "agt_test" },
    });
    expect(await instance.health(within())).toEqual({ status: "healthy" });
  });

  test("an external plugin imports stavily/sdk without node_modules", async () => {
    const { instance } = await started("external-sdk.js", "action");
    await instance.start(within());
    expect(await instance.execute(request("x"), within())).toEqual({ status: "completed", data: { sdk: "function" } });
    expect(await instance.execute(request("retry"), within())).toMatchObject({ status: "failed", error: { retryable: true } });
  });

  test("config the schema refuses fails start with invalid_config", async () => {
    const { instance } = await started("builtin:echo", "action", { prefix: 5 });
    const error = await rejection(instance.start(within()));
    expect(error.code).toBe("invalid_config");
    expect(error.message).toContain("prefix");
  });

  test("calls before start are refused; stop before start ends the instance", async () => {
    const instance = createWorkerInstance(makeLaunch(temp.make(), "builtin:echo", "action"));
    expect(await rejection(instance.health(within()))).toMatchObject({ code: "not_started" });
    await instance.stop(within());
    expect(await instance.exited).toEqual({ reason: "stopped" });
  });
});
