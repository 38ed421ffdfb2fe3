import { afterEach, describe, expect, test } from "bun:test";
import * as v from "valibot";
import { parseBuiltinManifest, pluginConfigSchema } from "../../../src/core/plugin/manifest/index.ts";
import { createWorkerInstance } from "../../../src/core/plugin/worker/index.ts";
import { instances, makeLaunch, recordingLogger, request, settleWithin, tempDirs, within } from "../../../src/core/plugin/worker/_test-support.ts";
import { BUILTIN_PLUGINS } from "../../all.ts";

const temp = tempDirs();
const running = instances();
afterEach(async () => {
  await running.cleanup();
  temp.cleanup();
});

test("echo returns the parameters, prefixes message, and logs one line", async () => {
  const logger = recordingLogger();
  const echo = running.track(createWorkerInstance(makeLaunch(temp.make(), "builtin:echo", "action", { config: { prefix: "re: " } }), { logger }));
  await echo.start(within());
  const lines: string[] = [];
  const result = await echo.execute(request("echo", { message: "hello", n: 2 }), { ...within(), onLog: (line) => lines.push(line) });
  expect(result).toEqual({ status: "completed", data: { parameters: { message: "hello", n: 2 }, message: "re: hello", agent: "agt_test" } });
  expect(lines).toEqual(['info echo {"request_id":"req_echo","parameters":2}']);
});

describe("sleep_ms", () => {
  async function echo() {
    const instance = running.track(createWorkerInstance(makeLaunch(temp.make(), "builtin:echo", "action"), { logger: recordingLogger() }));
    await instance.start(within());
    return instance;
  }

  test("answers after sleeping", async () => {
    const instance = await echo();
    const started = performance.now();
    const result = await instance.execute(request("echo", { message: "late", sleep_ms: 50 }), within());
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    expect(result).toMatchObject({ status: "completed", data: { message: "late" } });
  });

  test("an abort ends the sleep at once, and the call reports it", async () => {
    const instance = await echo();
    const controller = new AbortController();
    // The plugin logs "sleeping" just before it sleeps: abort then.
    const onLog = (line: string) => line.startsWith("info sleeping") && controller.abort();
    const pending = instance.execute(request("echo", { sleep_ms: 60_000 }), { ...within(120_000), signal: controller.signal, onLog });
    const result = await settleWithin(pending, 5_000, "aborted sleep");
    expect(result.status).toBe("failed");
    expect(result.error?.code).toBe("aborted");
    expect(result.error?.message).toStartWith("sleep aborted");
  });

  test("bad or too long sleeps fail naming sleep_ms", async () => {
    const instance = await echo();
    for (const sleep_ms of ["10", -1, 1.5, 600_001]) {
      const result = await instance.execute(request("echo", { sleep_ms }), within());
      expect(result.status).toBe("failed");
      expect(result.error?.code).toBe("invalid_parameters");
      expect(result.error?.message).toStartWith("invalid parameter sleep_ms: ");
    }
  });
});

test("plugin.yaml and the plugin's config schema agree on every field and default", async () => {
  const plugin = (await BUILTIN_PLUGINS.echo!.load()).default as { configSchema: v.GenericSchema };
  const manifest = parseBuiltinManifest("echo", BUILTIN_PLUGINS.echo!.manifest);
  expect(v.parse(plugin.configSchema, {})).toEqual(v.parse(pluginConfigSchema(manifest), {}));
});
