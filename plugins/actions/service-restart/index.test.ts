import { afterEach, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { assertPluginConfig, parseManifest } from "../../../src/core/plugin/manifest/index.ts";
import { createWorkerInstance } from "../../../src/core/plugin/worker/index.ts";
import { instances, makeLaunch, recordingLogger, request, tempDirs, within } from "../../../src/core/plugin/worker/_test-support.ts";
import { ConfigSchema } from "./_schema.ts";

const MANIFEST = parseManifest(readFileSync(join(import.meta.dir, "plugin.yaml"), "utf8"), join(import.meta.dir, "plugin.yaml"));
const STANDIN = join(import.meta.dir, "testdata", "systemctl");

const temp = tempDirs();
const running = instances();
afterEach(async () => {
  await running.cleanup();
  temp.cleanup();
});

/**
 * The built-in as the host starts it (config checked against plugin.yaml, permissions from it),
 * with the stand-in systemctl first on the PATH the worker resolves executables with.
 */
async function start(config: Record<string, unknown> | ((bin: string) => Record<string, unknown>), options: { path?: (bin: string) => string } = {}) {
  const bin = temp.make();
  const states = temp.make();
  const log = join(temp.make(), "argv.log");
  writeFileSync(log, "");
  copyFileSync(STANDIN, join(bin, "systemctl"));
  chmodSync(join(bin, "systemctl"), 0o755);
  const checked = assertPluginConfig(MANIFEST, { verify_timeout_ms: 0, ...(typeof config === "function" ? config(bin) : config) }, "plugins.config.service-restart");
  const env = { PATH: options.path ? options.path(bin) : `${bin}:/usr/bin:/bin`, STANDIN_LOG: log, STANDIN_STATES: states };
  const launch = makeLaunch(temp.make(), "builtin:service-restart", "action", { config: checked, permissions: MANIFEST.permissions, env });
  const instance = running.track(createWorkerInstance(launch, { logger: recordingLogger() }));
  await instance.start(within());
  return {
    bin,
    run: (parameters: Record<string, unknown>) => instance.execute(request("service", parameters), within()),
    /** Each call of the stand-in, as its argv. */
    calls: () => readFileSync(log, "utf8").split("\n").filter(Boolean).map((line) => line.split("\t").slice(0, -1)),
    setState: (unit: string, state: string) => writeFileSync(join(states, unit), `${state}\n`),
    state: (unit: string) => (existsSync(join(states, unit)) ? readFileSync(join(states, unit), "utf8").trim() : "inactive"),
    mark: (unit: string, marker: "fail" | "crash" | "slow") => writeFileSync(join(states, `${unit}.${marker}`), ""),
  };
}

const config = { manager: "systemctl", allowed_services: ["nginx", "app@1.service"] };

test("restart: runs systemctl restart and verifies with is-active", async () => {
  const svc = await start(config);
  const result = await svc.run({ service: "nginx", operation: "restart" });
  expect(result).toMatchObject({
    status: "completed",
    data: { manager: "systemctl", binary: "systemctl", service: "nginx", operation: "restart", before: "inactive", state: "active", running: true, verified: true },
  });
  expect(svc.calls()).toEqual([
    ["is-active", "--", "nginx"],
    ["restart", "--no-ask-password", "--", "nginx"],
    ["is-active", "--", "nginx"],
  ]);
  expect(svc.state("nginx")).toBe("active");
});

test("stop verifies the unit is inactive; status only asks", async () => {
  const svc = await start(config);
  svc.setState("app@1.service", "active");
  const stopped = await svc.run({ service: "app@1.service", operation: "stop" });
  expect(stopped.data).toMatchObject({ before: "active", state: "inactive", running: false, verified: true });
  const status = await svc.run({ service: "app@1.service", operation: "status" });
  expect(status.data).toMatchObject({ operation: "status", state: "inactive", running: false });
  expect(svc.calls().slice(-1)).toEqual([["is-active", "--", "app@1.service"]]);
  expect(svc.calls()).toHaveLength(4);
});

test("auto picks the first manager of this OS on PATH (systemctl on Linux)", async () => {
  const svc = await start({ allowed_services: ["nginx"] });
  const result = await svc.run({ service: "nginx" });
  expect(result.data).toMatchObject({ manager: "systemctl", operation: "restart", verified: true });
});

test("a unit that takes a moment to start is asked again until it is active", async () => {
  const svc = await start({ ...config, verify_timeout_ms: 5_000, verify_interval_ms: 50 });
  svc.mark("nginx", "slow");
  const result = await svc.run({ service: "nginx", operation: "start" });
  expect(result.data).toMatchObject({ state: "active", verified: true });
  expect(svc.calls().map((argv) => argv[0])).toEqual(["is-active", "start", "is-active", "is-active"]);
  // Only the last answer of the wait is reported.
  expect((result.data?.commands as { argv: string[] }[]).map((c) => c.argv[1])).toEqual(["is-active", "start", "is-active"]);
});

test("a failing restart reports the manager's message", async () => {
  const svc = await start(config);
  svc.mark("nginx", "fail");
  const result = await svc.run({ service: "nginx" });
  expect(result.error).toMatchObject({ code: "command_failed", message: expect.stringContaining("restart nginx: systemctl failed (exit 1: Job for nginx.service failed") });
});

test("a restart the manager accepts but the unit does not survive fails verification", async () => {
  const svc = await start(config);
  svc.mark("nginx", "crash");
  const result = await svc.run({ service: "nginx", operation: "start" });
  expect(result.error).toMatchObject({ code: "not_verified", retryable: true, message: expect.stringContaining("start nginx: systemctl succeeded but the service is failed, not running") });
});

test("refused: an unlisted service, a bad name, an operation not allowed, a manager from the instruction", async () => {
  const svc = await start({ ...config, allowed_operations: ["status", "restart"] });
  const cases: [Record<string, unknown>, string, string][] = [
    [{ service: "sshd" }, "not_allowed", "parameters.service: sshd is not in allowed_services (nginx, app@1.service)"],
    [{ service: "nginx; rm -rf /" }, "invalid_parameters", "parameters.service: expected a service name"],
    [{ service: "--help" }, "invalid_parameters", "parameters.service: expected a service name"],
    [{ service: "../../etc/passwd" }, "invalid_parameters", "parameters.service: expected a service name"],
    [{ service: "nginx\n" }, "invalid_parameters", "parameters.service: expected a service name"],
    [{}, "invalid_parameters", "parameters.service:"],
    [{ service: "nginx", operation: "stop" }, "not_allowed", "parameters.operation: stop is not in allowed_operations (status, restart)"],
    [{ service: "nginx", operation: "reload" }, "invalid_parameters", "parameters.operation: expected one of restart, start, stop, status"],
    [{ service: "nginx", manager: "docker" }, "invalid_parameters", "parameters.manager: unknown parameter"],
  ];
  for (const [parameters, code, message] of cases) {
    const result = await svc.run(parameters);
    expect(result.error, message).toMatchObject({ code, message: expect.stringContaining(message) });
  }
  expect(svc.calls()).toEqual([]);
});

test("binary_path: the stand-in PATH resolves to is run; any other path is refused by ctx.exec", async () => {
  const svc = await start((bin) => ({ ...config, binary_path: join(bin, "systemctl") }));
  expect((await svc.run({ service: "nginx", operation: "status" })).data).toMatchObject({ binary: join(svc.bin, "systemctl"), state: "inactive" });
  const elsewhere = await start({ ...config, binary_path: STANDIN });
  expect((await elsewhere.run({ service: "nginx", operation: "status" })).error).toMatchObject({
    code: "not_allowed",
    message: expect.stringContaining(`permission denied: exec ${STANDIN}: not in permissions.exec`),
  });
  expect(elsewhere.calls()).toEqual([]);
});

test("no manager on PATH: auto says what it tried; a configured one says it is missing", async () => {
  const auto = await start({ allowed_services: ["nginx"] }, { path: () => temp.make() });
  expect((await auto.run({ service: "nginx" })).error).toMatchObject({ code: "no_manager", message: expect.stringContaining("no service manager found on PATH (tried systemctl, service)") });
  const docker = await start({ allowed_services: ["nginx"], manager: "docker" }, { path: () => temp.make() });
  expect((await docker.run({ service: "nginx" })).error).toMatchObject({ code: "no_manager", message: expect.stringContaining("docker: exec: docker not found on PATH") });
});

test("binary_path without manager refuses to start", async () => {
  await expect(start({ allowed_services: ["nginx"], binary_path: "/usr/bin/systemctl" })).rejects.toThrow("binary_path needs manager set");
});

test("testdata/sample.yaml is a valid config for both plugin.yaml and the plugin", () => {
  const sample = (Bun.YAML.parse(readFileSync(join(import.meta.dir, "testdata", "sample.yaml"), "utf8")) as { plugins: { config: Record<string, unknown> } }).plugins.config["service-restart"];
  expect(v.parse(ConfigSchema, sample) as Record<string, unknown>).toEqual(assertPluginConfig(MANIFEST, sample, "plugins.config.service-restart"));
});

test("plugin.yaml and the plugin's config schema agree on every default", () => {
  const minimal = { allowed_services: ["nginx"] };
  expect(v.parse(ConfigSchema, minimal) as Record<string, unknown>).toEqual(assertPluginConfig(MANIFEST, minimal, "x"));
});
