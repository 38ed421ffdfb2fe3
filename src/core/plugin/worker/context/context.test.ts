/** ctx as a plugin sees it, through real workers: permissions granted and refused, state, system. */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { PluginLaunch } from "../../types.ts";
import { instances, makeLaunch, recordingLogger, request, tempDirs, within } from "../_test-support.ts";
import { createWorkerInstance } from "../host.ts";
import { goneWithin } from "../../../../../test/support/process.ts";

const temp = tempDirs();
const running = instances();
afterEach(async () => {
  await running.cleanup();
  temp.cleanup();
});

let server: ReturnType<typeof Bun.serve>;
beforeAll(() => {
  server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("pong") });
});
afterAll(() => server.stop(true));

async function caps(overrides: Partial<PluginLaunch> = {}, home = temp.make()) {
  const instance = running.track(createWorkerInstance(makeLaunch(home, "caps.ts", "action", { id: "caps", ...overrides }), { logger: recordingLogger() }));
  await instance.start(within());
  return (type: string, parameters: Record<string, unknown> = {}) => instance.execute(request(type, parameters), within(10_000));
}

const permissions = (p: Partial<PluginLaunch["permissions"]>): PluginLaunch["permissions"] => ({
  network: false,
  filesystem: { read: [], write: [] },
  exec: [],
  system_calls: [],
  capabilities: [],
  ...p,
});

const denied = { status: "failed", error: { code: "permission_denied" } };

describe("ctx.fetch", () => {
  test("refused without permissions.network", async () => {
    const run = await caps();
    expect(await run("fetch", { url: server.url.href })).toMatchObject(denied);
  });

  test("works with permissions.network", async () => {
    const run = await caps({ permissions: permissions({ network: true }) });
    expect(await run("fetch", { url: server.url.href })).toEqual({ status: "completed", data: { status: 200, body: "pong" } });
  });
});

describe("ctx.fs", () => {
  function layout() {
    const home = temp.make();
    const readable = join(home, "readable");
    const writable = join(home, "writable");
    const outside = join(home, "outside");
    for (const dir of [readable, writable, outside]) mkdirSync(dir);
    writeFileSync(join(readable, "a.txt"), "hello");
    writeFileSync(join(outside, "secret.txt"), "secret");
    symlinkSync(join(outside, "secret.txt"), join(readable, "link.txt"));
    symlinkSync(outside, join(writable, "escape"));
    symlinkSync(join(outside, "new.txt"), join(writable, "dangling.txt"));
    const perms = permissions({ filesystem: { read: [readable], write: [writable] } });
    return { home, readable, writable, outside, perms };
  }

  test("reads under read paths, writes under write paths", async () => {
    const { home, readable, writable, perms } = layout();
    const run = await caps({ permissions: perms }, home);
    expect(await run("read", { path: join(readable, "a.txt") })).toEqual({ status: "completed", data: { text: "hello" } });
    expect(await run("write", { path: join(writable, "b.txt"), text: "written", dir: writable })).toMatchObject({ status: "completed", data: { listed: ["b.txt", "dangling.txt", "escape"] } });
    expect(readFileSync(join(writable, "b.txt"), "utf8")).toBe("written");
  });

  test("refuses paths outside, writes to read-only paths, and symlinks that escape", async () => {
    const { home, readable, writable, outside, perms } = layout();
    const run = await caps({ permissions: perms }, home);
    expect(await run("read", { path: join(outside, "secret.txt") })).toMatchObject(denied);
    expect(await run("read", { path: join(readable, "link.txt") })).toMatchObject(denied);
    expect(await run("read", { path: join(readable, "..", "outside", "secret.txt") })).toMatchObject(denied);
    expect(await run("write", { path: join(readable, "a.txt"), text: "x", dir: readable })).toMatchObject(denied);
    expect(await run("write", { path: join(writable, "escape", "x.txt"), text: "x", dir: writable })).toMatchObject(denied);
    expect(await run("write", { path: join(writable, "dangling.txt"), text: "x", dir: writable })).toMatchObject(denied);
    expect(existsSync(join(outside, "x.txt")) || existsSync(join(outside, "new.txt"))).toBe(false);
    expect(readFileSync(join(readable, "a.txt"), "utf8")).toBe("hello");
  });
});

describe("ctx.exec", () => {
  test("runs a listed executable; refuses one not listed", async () => {
    const run = await caps({ permissions: permissions({ exec: ["echo"] }) });
    expect(await run("exec", { argv: ["echo", "hi", "there"] })).toMatchObject({ status: "completed", data: { exitCode: 0, stdout: "hi there\n", timedOut: false } });
    expect(await run("exec", { argv: ["ls", "/"] })).toMatchObject(denied);
    expect(await run("exec", { argv: ["/bin/ls", "/"] })).toMatchObject(denied);
  });

  test("caps output", async () => {
    const run = await caps({ permissions: permissions({ exec: ["sh"] }) });
    const result = await run("exec", { argv: ["sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x"], options: { maxOutputBytes: 1000 } });
    expect(result).toMatchObject({ status: "completed", data: { exitCode: 0, truncated: true } });
    expect((result.data?.stdout as string).length).toBe(1000);
  });

  test("the child carries the agent's home, which neither the launch env nor the call's env can change", async () => {
    const run = await caps({ permissions: permissions({ exec: ["sh"] }), agentHome: "/var/lib/stavily/agent-x", env: { STAVILY_AGENT_HOME: "/launch" } });
    const result = await run("exec", { argv: ["sh", "-c", "echo $STAVILY_AGENT_HOME"], options: { env: { STAVILY_AGENT_HOME: "/call" } } });
    expect(result).toMatchObject({ status: "completed", data: { exitCode: 0, stdout: "/var/lib/stavily/agent-x\n" } });
  });

  test("a timeout kills the whole process group", async () => {
    const run = await caps({ permissions: permissions({ exec: ["sh"] }) });
    const started = Date.now();
    // The shell starts a grandchild, reports its pid, and waits on it.
    const result = await run("exec", { argv: ["sh", "-c", "sleep 30 & echo $!; wait"], options: { timeoutMs: 300 } });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result).toMatchObject({ status: "completed", data: { timedOut: true, exitCode: null, signal: "SIGKILL" } });
    const grandchild = Number((result.data?.stdout as string).trim());
    expect(grandchild).toBeGreaterThan(0);
    // SIGKILL to the group is delivered asynchronously: wait for the end, with a deadline.
    expect(await goneWithin(grandchild, 5_000)).toBe(true);
  });
});


describe("ctx.state", () => {
  test("persists across instances of one plugin", async () => {
    const home = temp.make();
    const first = await caps({}, home);
    await first("state-set", { key: "last_seen", value: { at: 42, ids: ["a"] } });
    await running.cleanup();
    const second = await caps({}, home);
    expect(await second("state-get", { key: "last_seen" })).toEqual({ status: "completed", data: { value: { at: 42, ids: ["a"] }, keys: ["last_seen"] } });
  });
});

describe("ctx.system", () => {
  test("returns numbers", async () => {
    const run = await caps();
    const result = await run("system");
    expect(result.status).toBe("completed");
    const data = result.data as Record<string, any>;
    expect(data.cpu.load).toBeNumber();
    expect(data.cpu.cores.length).toBeGreaterThan(0);
    expect(data.memory.total).toBeGreaterThan(0);
    expect(data.memory.used).toBeNumber();
    expect(Array.isArray(data.disks)).toBe(true);
    expect(data.processes.length).toBeGreaterThan(0);
    expect(data.processes[0].pid).toBeNumber();
    expect(Array.isArray(data.network)).toBe(true);
  }, 30_000);
});
