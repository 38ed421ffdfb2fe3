/**
 * webhook through the real worker runtime against a local Bun.serve on 127.0.0.1 that answers from
 * a script (one status per request), so retries, Retry-After and giving up are real HTTP.
 */
import { afterEach, expect, test } from "bun:test";
import * as v from "valibot";
import { assertPluginConfig, parseBuiltinManifest } from "../../../src/core/plugin/manifest/index.ts";
import type { PluginError } from "../../../src/core/plugin/errors.ts";
import { createWorkerInstance } from "../../../src/core/plugin/worker/index.ts";
import { instances, makeLaunch, recordingLogger, tempDirs, within } from "../../../src/core/plugin/worker/_test-support.ts";
import { BUILTIN_PLUGINS } from "../../all.ts";
import { ConfigSchema } from "./_config.ts";
import { retryDelay } from "../../../src/sdk/index.ts";

const ID = "webhook";
const MANIFEST = parseBuiltinManifest(ID, BUILTIN_PLUGINS[ID]!.manifest);
const temp = tempDirs();
const running = instances();
const servers: { stop(force?: boolean): unknown }[] = [];
afterEach(async () => {
  await running.cleanup();
  for (const server of servers.splice(0)) server.stop(true);
  temp.cleanup();
});

interface Seen {
  at: number;
  headers: Record<string, string>;
  body: unknown;
}

/** A server answering the i-th request with answers[i] (the last one repeats). */
function serve(answers: (() => Response)[]) {
  const seen: Seen[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      seen.push({ at: performance.now(), headers: Object.fromEntries(request.headers), body: await request.json() });
      return answers[Math.min(seen.length, answers.length) - 1]!();
    },
  });
  servers.push(server);
  return { seen, url: `http://127.0.0.1:${server.port}/hooks/s3cr3t-path-token` };
}

const ok = () => new Response("ok");
const status = (code: number, headers: Record<string, string> = {}, body = "") => () => new Response(body, { status: code, headers });

async function start(local: Record<string, unknown>, secrets: Record<string, string> = {}) {
  const config = assertPluginConfig(MANIFEST, local, `plugins.config.${ID}`);
  const logger = recordingLogger();
  const permissions = { network: true, filesystem: { read: [], write: [] }, exec: [], system_calls: [], capabilities: [] };
  const instance = running.track(createWorkerInstance(makeLaunch(temp.make(), `builtin:${ID}`, "output", { config, permissions, secrets }), { logger }));
  await instance.start(within());
  return { instance, logger };
}

const event = (n: number) => ({ id: `evt_${n}`, type: "cpu.high", source: "cpu-monitor", timestamp: "2026-11-25T12:00:00.000Z", severity: "high", data: { n } });

/** The error a send rejected with. */
async function failure(promise: Promise<unknown>): Promise<PluginError> {
  const error = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!error) throw new Error("expected the send to fail");
  return error as PluginError;
}

test("a batch is one POST of {events: [...]} with the configured headers, ${env:…} from granted secrets", async () => {
  const server = serve([ok]);
  const { instance } = await start(
    { url_env: "HOOK_URL", headers: { Authorization: "Bearer ${env:HOOK_TOKEN}", "X-Source": "stavily" } },
    { HOOK_URL: server.url, HOOK_TOKEN: "tok-123" },
  );
  await instance.send([event(1), event(2)], within());
  expect(server.seen).toHaveLength(1);
  expect(server.seen[0]!.body).toEqual({ events: [event(1), event(2)] });
  expect(server.seen[0]!.headers).toMatchObject({ authorization: "Bearer tok-123", "x-source": "stavily", "content-type": "application/json; charset=utf-8" });
});

test("per_event: one POST per event, the event itself as the body", async () => {
  const server = serve([ok]);
  const { instance } = await start({ url: server.url, per_event: true });
  await instance.send([event(1), event(2), event(3)], within());
  expect(server.seen.map((seen) => seen.body)).toEqual([event(1), event(2), event(3)]);
});

test("503 then 200: retried after backoff, delivered once", async () => {
  const server = serve([status(503), ok]);
  const { instance, logger } = await start({ url: server.url, backoff_ms: 1 });
  await instance.send([event(1)], within());
  expect(server.seen).toHaveLength(2);
  expect(server.seen[1]!.body).toEqual(server.seen[0]!.body);
  expect(logger.lines).toContainEqual(expect.objectContaining({ level: "warn", msg: "webhook: attempt failed; retrying" }));
});

test("429 with Retry-After: 1 waits the second the server asked for, not backoff_ms", async () => {
  const server = serve([status(429, { "retry-after": "1" }), ok]);
  const { instance } = await start({ url: server.url, backoff_ms: 0 });
  await instance.send([event(1)], within());
  expect(server.seen).toHaveLength(2);
  expect(server.seen[1]!.at - server.seen[0]!.at).toBeGreaterThanOrEqual(950);
});

test("always 503: gives up after max_attempts with a retryable error that shows the origin, not the URL's path", async () => {
  const server = serve([status(503, {}, "busy")]);
  const { instance } = await start({ url: server.url, max_attempts: 3, backoff_ms: 1 });
  const error = await failure(instance.send([event(1)], within()));
  expect(server.seen).toHaveLength(3);
  expect(error.retryable).toBe(true);
  expect(error.code).toBe("gave_up");
  expect(error.message).toContain(`[POST] "${new URL(server.url).origin}": 1 event: gave up after 3 attempts; last: 503 "busy"`);
  expect(error.message).not.toContain("s3cr3t");
});

test("a Retry-After beyond max_backoff_ms ends the retries at once (retryable)", async () => {
  const server = serve([status(503, { "retry-after": "120" })]);
  const { instance } = await start({ url: server.url, max_attempts: 5, max_backoff_ms: 1000 });
  const error = await failure(instance.send([event(1)], within()));
  expect(server.seen).toHaveLength(1);
  expect(error.retryable).toBe(true);
  expect(error.message).toContain("Retry-After 120 is longer than max_backoff_ms 1000");
});

test("a 400 is final: not retried, not retryable; a secret echoed back is redacted", async () => {
  const server = serve([status(400, {}, "bad token tok-123")]);
  const { instance, logger } = await start({ url: server.url, headers: { Authorization: "Bearer ${env:HOOK_TOKEN}" } }, { HOOK_TOKEN: "tok-123" });
  const error = await failure(instance.send([event(1)], within()));
  expect(server.seen).toHaveLength(1);
  expect(error.retryable).toBe(false);
  expect(error.code).toBe("rejected");
  expect(error.message).toContain('400 "bad token [redacted]" (not retried)');
  expect(JSON.stringify(logger.lines)).not.toContain("tok-123");
});

test("a clear header value from the config is never shown either", async () => {
  const server = serve([status(401, {}, "unknown key clear-key-99")]);
  const { instance, logger } = await start({ url: server.url, headers: { "X-Api-Key": "clear-key-99" } });
  const error = await failure(instance.send([event(1)], within()));
  expect(error.message).toContain('401 "unknown key [redacted]" (not retried)');
  expect(JSON.stringify(logger.lines)).not.toContain("clear-key-99");
});

test("per_event: a failure names the event and how many before it were delivered", async () => {
  const server = serve([ok, status(500)]);
  const { instance } = await start({ url: server.url, per_event: true, max_attempts: 2, backoff_ms: 1 });
  const error = await failure(instance.send([event(1), event(2), event(3)], within()));
  expect(server.seen).toHaveLength(3);
  expect(error.message).toContain("event 2 of 3: gave up after 2 attempts; last: 500 (the 1 before it were delivered)");
});

test("a refused connection is retried, then fails retryable", async () => {
  const server = serve([ok]);
  servers.splice(0).forEach((s) => s.stop(true));
  const { instance } = await start({ url: server.url, max_attempts: 2, backoff_ms: 1 });
  const error = await failure(instance.send([event(1)], within()));
  expect(error.retryable).toBe(true);
  expect(error.message).toContain("gave up after 2 attempts");
  expect(error.message).not.toContain("s3cr3t");
});

test("a url_env or header secret that is not granted fails the start, naming it", async () => {
  await expect(start({ url_env: "HOOK_URL" })).rejects.toThrow("webhook: url_env HOOK_URL is not granted in plugins.secrets.webhook");
  await expect(start({ url: "http://127.0.0.1:9/x", headers: { Authorization: "Bearer ${env:NOPE}" } })).rejects.toThrow("headers.Authorization: ${env:NOPE} is not granted");
  await expect(start({})).rejects.toThrow("expected exactly one of url and url_env");
});

test("retryDelay: Retry-After seconds or date, else doubling backoff, capped", () => {
  const options = { backoff_ms: 100, max_backoff_ms: 1000 };
  expect([1, 2, 3, 4, 5].map((attempt) => retryDelay(attempt, null, options))).toEqual([100, 200, 400, 800, 1000]);
  expect(retryDelay(1, "1", options)).toBe(1000);
  expect(retryDelay(1, "2", options)).toBeUndefined();
  expect(retryDelay(1, new Date(10_500).toUTCString(), options, 10_000)).toBe(0);
  expect(retryDelay(1, "soon", options)).toBe(100);
});

test("plugin.yaml and the plugin's config schema agree on every default", () => {
  const manifest = assertPluginConfig(MANIFEST, { url: "https://x.example/" }, "x");
  expect(v.parse(ConfigSchema, { url: "https://x.example/" }) as Record<string, unknown>).toEqual(manifest);
});
