/**
 * The PluginInstance contract at every sandbox level, with the same TypeScript plugins: a plugin must
 * behave the same whether it runs in a Worker, in `stavily plugin-host`, or in that host inside bwrap.
 */
import { afterEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { PluginError } from "../errors.ts";
import { isGone, waitUntil } from "../stdio/_testkit.ts";
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

/** Live processes whose command line is exactly `argv`. */
function pidsOf(argv: string[]): number[] {
  const wanted = argv.join("\0");
  return fs
    .readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        return fs.readFileSync(`/proc/${name}/cmdline`, "utf8").replace(/\0$/, "").endsWith(wanted) && !isGone(Number(name));
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
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

  test.each(["uncaught", "reject"])("%s: an error no call catches ends the instance; the call in flight fails as crashed at once", async (type) => {
    if (!runs()) return;
    const instance = instanceOf("misbehave.ts", "action", level);
    await instance.start(within());
    const started = Date.now();
    expect((await rejection(instance.execute(request(type), within(10_000)))).code).toBe("crashed");
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await instance.exited).reason).toBe("crashed");
  });

  test("JSON printed to fd 1 by plugin code answers no call: its own completes, and so does the next", async () => {
    // At level worker fd 1 is the agent's own stdout (no protocol on it).
    if (!runs() || level === "worker") return;
    const instance = instanceOf("misbehave.ts", "action", level);
    await instance.start(within());
    const junk = instance.execute(request("stdout-junk"), within());
    const next = instance.execute(request("ok", { n: 2 }), within());
    expect(await junk).toEqual({ status: "completed", data: { printed: true } });
    expect(await next).toEqual({ status: "completed", data: { echoed: { n: 2 } } });
  });

  test("ctx.exec children end with the instance, whether it exits or is killed", async () => {
    if (!runs()) return;
    for (const then of ["exit", "busy"]) {
      const argv = ["sleep", `300.${Math.floor(Math.random() * 1e9)}`];
      const launch = launchOf("caps.ts", "action", { dir: WORKER_TESTDATA, entry: path.join(WORKER_TESTDATA, "caps.ts") });
      launch.permissions.exec = ["sleep"];
      const instance = track(createSandboxedInstance(launch, level));
      await instance.start(within());
      // The log line comes after the child's report (the same channel at level worker; pushed earlier otherwise).
      let walkedAway!: () => void;
      const logged = new Promise<void>((resolve) => (walkedAway = resolve));
      const call = instance.execute(request("exec-walk-away", { argv, then }), { ...within(1_000), onLog: () => walkedAway() }).catch((error: unknown) => error);
      await logged;
      expect(pidsOf(argv).length).toBe(1);
      if (then === "busy") instance.kill();
      expect(await call).toBeInstanceOf(PluginError);
      await instance.exited;
      await waitUntil(() => pidsOf(argv).length === 0, 5_000, `${argv.join(" ")} gone with the instance (${then})`);
    }
  });

  test("a ctx.exec child ends with the instance even when the kill comes before the host heard of it", async () => {
    // Level worker only: a plugin host process killed between a fork and its report (a pipe write) leaves
    // that one child, a window of microseconds that this test's busy wait would stretch (stdio README).
    if (level !== "worker") return;
    const argv = ["sleep", `300.${Math.floor(Math.random() * 1e9)}`];
    const launch = launchOf("caps.ts", "action", { dir: WORKER_TESTDATA, entry: path.join(WORKER_TESTDATA, "caps.ts") });
    launch.permissions.exec = ["sleep"];
    const instance = track(createSandboxedInstance(launch, level));
    await instance.start(within());
    const call = instance.execute(request("exec-walk-away", { argv, then: "busy" }), within(5_000)).catch((error: unknown) => error);
    // Synchronously, so this thread handles no message from the plugin in between: the kill lands first.
    const until = Date.now() + 5_000;
    while (pidsOf(argv).length === 0 && Date.now() < until) Bun.sleepSync(1);
    // The child exists from the fork on; its pid is recorded a moment later, when the spawn returns.
    Bun.sleepSync(50);
    instance.kill();
    expect(await call).toBeInstanceOf(PluginError);
    await instance.exited;
    await waitUntil(() => pidsOf(argv).length === 0, 5_000, `${argv.join(" ")} gone with the instance`);
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
