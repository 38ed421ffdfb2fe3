import { afterEach, beforeEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { assertPluginConfig, parseManifest } from "../../../src/core/plugin/manifest/index.ts";
import type { PluginLaunch } from "../../../src/core/plugin/types.ts";
import { createWorkerInstance } from "../../../src/core/plugin/worker/index.ts";
import { instances, makeLaunch, recordingLogger, request, settleWithin, tempDirs, within } from "../../../src/core/plugin/worker/_test-support.ts";
import { ConfigSchema } from "./_schema.ts";

const MANIFEST = parseManifest(readFileSync(join(import.meta.dir, "plugin.yaml"), "utf8"), join(import.meta.dir, "plugin.yaml"));

const temp = tempDirs();
const running = instances();
let server: ReturnType<typeof Bun.serve>;
/** Bodies received, per path. */
let received: { path: string; body: unknown }[];
/** Answers for /flaky, in order; then 200. */
let script: Response[];

beforeEach(() => {
  received = [];
  script = [];
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      received.push({ path, body: await req.json() });
      switch (path) {
        case "/flaky":
          return script.shift() ?? new Response("ok");
        case "/busy":
          return new Response("slow down", { status: 503, headers: { "retry-after": "30" } });
        case "/bad":
          return new Response("invalid_blocks", { status: 400 });
        case "/moved":
          return new Response(null, { status: 302, headers: { location: "https://elsewhere.example.net/" } });
        default:
          return new Response("ok");
      }
    },
  });
});

afterEach(async () => {
  await running.cleanup();
  await server.stop(true);
  temp.cleanup();
});

const hook = (path: string) => ({ url: `http://127.0.0.1:${server.port}${path}` });

/** The built-in as the host starts it: config checked against plugin.yaml, permissions from it. */
async function start(config: Record<string, unknown>, overrides: Partial<PluginLaunch> = {}) {
  const checked = assertPluginConfig(MANIFEST, { backoff_ms: 1, ...config }, "plugins.config.notify-webhook");
  const launch = makeLaunch(temp.make(), "builtin:notify-webhook", "action", { config: checked, permissions: MANIFEST.permissions, ...overrides });
  const instance = running.track(createWorkerInstance(launch, { logger: recordingLogger() }));
  await instance.start(within());
  return instance;
}

const notify = (instance: Awaited<ReturnType<typeof start>>, parameters: Record<string, unknown>, options: Parameters<Awaited<ReturnType<typeof start>>["execute"]>[1] = within()) => instance.execute(request("notify", parameters), options);

test("posts text and blocks to the webhook the config names", async () => {
  const plugin = await start({ webhooks: { ops: hook("/ops") }, default_webhook: "ops" });
  const blocks = [{ type: "section", text: { type: "mrkdwn", text: "*disk* 95%" } }];
  const result = await notify(plugin, { text: "disk full on web-1", blocks });
  expect(received).toEqual([{ path: "/ops", body: { text: "disk full on web-1", blocks } }]);
  expect(result).toMatchObject({ status: "completed", data: { webhook: "ops", status: 200, response: "ok", attempts: 1 } });
});

test("url_env: the URL comes from the agent's environment and is never reported", async () => {
  const url = `http://127.0.0.1:${server.port}/secret-hook/T000/B000`;
  const plugin = await start({ webhooks: { ops: { url_env: "SLACK_OPS_URL" }, gone: { url_env: "UNSET_URL" } } }, { secrets: { SLACK_OPS_URL: url } });
  const result = await notify(plugin, { webhook: "ops", text: "hi" });
  expect(received).toEqual([{ path: "/secret-hook/T000/B000", body: { text: "hi" } }]);
  expect(JSON.stringify(result)).not.toContain("secret-hook");
  const unset = await notify(plugin, { webhook: "gone", text: "hi" });
  expect(unset.error).toMatchObject({ code: "not_configured", message: expect.stringContaining("url_env UNSET_URL is not set") });
});

test("429 and 5xx are retried (Retry-After honoured) until one succeeds", async () => {
  script = [new Response("rate limited", { status: 429, headers: { "retry-after": "0" } }), new Response("oops", { status: 503 })];
  const plugin = await start({ webhooks: { ops: hook("/flaky") }, max_attempts: 3 });
  const result = await notify(plugin, { webhook: "ops", text: "hi" });
  expect(received.map((r) => r.path)).toEqual(["/flaky", "/flaky", "/flaky"]);
  expect(result.data).toMatchObject({ status: 200, attempts: 3 });
});

test("gives up after max_attempts, retryable; a 4xx or a redirect is not retried", async () => {
  script = [new Response("oops", { status: 500 }), new Response("oops", { status: 502 })];
  const plugin = await start({ webhooks: { ops: hook("/flaky"), bad: hook("/bad"), moved: hook("/moved") }, max_attempts: 2 });
  const gaveUp = await notify(plugin, { webhook: "ops", text: "hi" });
  expect(gaveUp.error).toMatchObject({ code: "gave_up", retryable: true, message: expect.stringContaining("gave up after 2 attempts; last: status 502: oops") });
  const bad = await notify(plugin, { webhook: "bad", text: "hi" });
  expect(bad.error).toMatchObject({ code: "rejected", retryable: false, message: expect.stringContaining("status 400: invalid_blocks (not retried)") });
  const moved = await notify(plugin, { webhook: "moved", text: "hi" });
  expect(moved.error).toMatchObject({ code: "rejected", message: expect.stringContaining("status 302") });
  expect(received.map((r) => r.path)).toEqual(["/flaky", "/flaky", "/bad", "/moved"]);
});

test("a Retry-After beyond max_backoff_ms ends the retries", async () => {
  const plugin = await start({ webhooks: { ops: hook("/busy") }, max_backoff_ms: 1000 });
  const result = await notify(plugin, { webhook: "ops", text: "hi" });
  expect(result.error).toMatchObject({ code: "gave_up", message: expect.stringContaining("asks to wait 30 (Retry-After), longer than max_backoff_ms 1000") });
  expect(received).toHaveLength(1);
});

test("an abort ends the wait for a retry at once", async () => {
  const plugin = await start({ webhooks: { ops: hook("/busy") }, max_backoff_ms: 60_000 });
  const controller = new AbortController();
  let waiting!: () => void;
  const retrying = new Promise<void>((resolve) => (waiting = resolve));
  // The plugin logs before it waits: abort then, so the abort lands in the wait, not in the fetch.
  const onLog = (line: string) => line.includes("retrying") && waiting();
  const pending = notify(plugin, { webhook: "ops", text: "hi" }, { ...within(60_000), signal: controller.signal, onLog });
  await settleWithin(retrying, 5_000, "the retry log line");
  controller.abort();
  const result = await settleWithin(pending, 5_000, "aborted notify");
  expect(result.error).toMatchObject({ code: "aborted", message: expect.stringContaining("aborted while waiting to retry after attempt 1 (status 503: slow down)") });
  expect(received).toHaveLength(1);
});

test("refused: an unknown webhook name, a URL from the instruction, bad parameters", async () => {
  const plugin = await start({ webhooks: { ops: hook("/ops"), audit: hook("/audit") } });
  const cases: [Record<string, unknown>, string, string][] = [
    [{ webhook: "evil", text: "hi" }, "not_allowed", 'parameters.webhook: "evil" is not a configured webhook (known: ops, audit)'],
    [{ text: "hi" }, "invalid_parameters", "parameters.webhook: required (no default_webhook is configured; known: ops, audit)"],
    [{ webhook: "ops", text: "hi", url: "http://evil.example.net/" }, "invalid_parameters", "parameters.url: unknown parameter (the URL comes from the agent's config"],
    [{ webhook: "https://evil.example.net/", text: "hi" }, "invalid_parameters", "parameters.webhook: expected a webhook name"],
    [{ webhook: "ops" }, "invalid_parameters", "parameters: expected text or blocks"],
    [{ webhook: "ops", blocks: ["x"] }, "invalid_parameters", "parameters.blocks.0: expected a block (a mapping)"],
  ];
  for (const [parameters, code, message] of cases) {
    const result = await notify(plugin, parameters);
    expect(result.error, message).toMatchObject({ code, message: expect.stringContaining(message) });
  }
  expect(received).toEqual([]);
});

test("a default_webhook that is not configured refuses to start", async () => {
  await expect(start({ webhooks: { ops: hook("/ops") }, default_webhook: "nope" })).rejects.toThrow('default_webhook "nope" is not one of webhooks (ops)');
  await expect(start({ webhooks: { ops: { url: "http://x/", url_env: "X" } } })).rejects.toThrow("expected exactly one of url and url_env");
});

test("testdata/sample.yaml is a valid config for both plugin.yaml and the plugin", () => {
  const sample = (Bun.YAML.parse(readFileSync(join(import.meta.dir, "testdata", "sample.yaml"), "utf8")) as { plugins: { config: Record<string, unknown> } }).plugins.config["notify-webhook"];
  expect(v.parse(ConfigSchema, sample) as Record<string, unknown>).toEqual(assertPluginConfig(MANIFEST, sample, "plugins.config.notify-webhook"));
});

test("plugin.yaml and the plugin's config schema agree on every default", () => {
  const minimal = { webhooks: { ops: { url_env: "SLACK_OPS_URL" } } };
  expect(v.parse(ConfigSchema, minimal) as Record<string, unknown>).toEqual(assertPluginConfig(MANIFEST, minimal, "x"));
});
