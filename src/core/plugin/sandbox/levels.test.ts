/**
 * The PluginInstance contract at every sandbox level, with the same TypeScript plugins: a plugin must
 * behave the same whether it runs in a Worker, in `stavily plugin-host`, or in that host inside bwrap.
 */
import { afterEach, describe, expect, test } from "bun:test";
import path from "node:path";
import { PluginError } from "../errors.ts";
import type { DetectedEvent, PluginInstance, PluginKind } from "../types.ts";
import { createSandboxedInstance } from "./index.ts";
import type { SandboxLevel } from "./_options.ts";
import { bwrapAvailable, cleanup, launchOf, request, track, within } from "./_testkit.ts";

afterEach(cleanup);

const WORKER_TESTDATA = path.join(import.meta.dir, "..", "worker", "testdata");

function instanceOf(file: string, kind: PluginKind, level: SandboxLevel, config: Record<string, unknown> = {}): PluginInstance {
  const launch = launchOf(file, kind, { dir: WORKER_TESTDATA, entry: path.join(WORKER_TESTDATA, file), config });
  return track(createSandboxedInstance(launch, level));
}

async function rejection(promise: Promise<unknown>): Promise<PluginError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PluginError);
  return error as PluginError;
}

describe.each(["worker", "process", "strict"] as const)("level %s", (level) => {
  const runs = () => level !== "strict" || bwrapAvailable();

  test("an action answers; a throw is a failed result with the plugin's message; retryable is kept", async () => {
    if (!runs()) return;
    const instance = instanceOf("misbehave.ts", "action", level);
    await instance.start(within());
    expect(await instance.execute(request("ok", { x: 1 }), within())).toEqual({ status: "completed", data: { echoed: { x: 1 } } });
    expect(await instance.execute(request("throw"), within())).toMatchObject({ status: "failed", error: { message: "the disk is on fire" } });
    expect(await instance.execute(request("retryable"), within())).toMatchObject({ status: "failed", error: { message: "upstream 503", retryable: true } });
    await instance.stop(within());
    expect(await instance.exited).toMatchObject({ reason: "stopped" });
  });

  test("a busy loop misses its deadline (timeout); kill ends it", async () => {
    if (!runs()) return;
    const instance = instanceOf("misbehave.ts", "action", level);
    await instance.start(within());
    expect((await rejection(instance.execute(request("loop"), within(300)))).code).toBe("timeout");
    instance.kill();
    expect(await instance.exited).toMatchObject({ reason: "killed" });
    expect((await rejection(instance.health(within()))).code).toBe("killed");
  });

  test("a plugin that exits fails the call in flight as crashed", async () => {
    if (!runs()) return;
    const instance = instanceOf("misbehave.ts", "action", level);
    await instance.start(within());
    expect((await rejection(instance.execute(request("exit"), within()))).code).toBe("crashed");
    expect((await instance.exited).reason).toBeOneOf(["crashed", "exited"]);
  });

  test("a trigger: watch pushes events, detect returns them", async () => {
    if (!runs()) return;
    const instance = instanceOf("trigger.ts", "trigger", level, { mode: "one" });
    const first = new Promise<DetectedEvent>((resolve) => instance.onEvent(resolve));
    await instance.start(within());
    expect(await first).toMatchObject({ type: "watch.started", data: { instance: "agt_test" } });
    expect(await instance.detect(within())).toMatchObject([{ type: "disk.full", severity: "high", data: { mount: "/", runs: 1 } }]);
    await instance.stop(within());
  });

  test("an output: send, health; an invalid config is refused at start", async () => {
    if (!runs()) return;
    const instance = instanceOf("output.ts", "output", level);
    await instance.start(within());
    await instance.send([1, 2, 3], within());
    expect(await instance.health(within())).toEqual({ status: "healthy", message: "sent 3" });
    const invalid = instanceOf("output.ts", "output", level, { degraded: "very" });
    expect((await rejection(invalid.start(within()))).code).toBe("invalid_config");
  });
});
