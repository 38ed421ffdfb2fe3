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
const TOKEN = "s3cr3t-token-value";

const temp = tempDirs();
const running = instances();
let server: ReturnType<typeof Bun.serve>;
let seen: { method: string; path: string; authorization: string | null; body: string }[];
let release: () => void;
/** Resolves when /hang has been asked. */
let hanging: Promise<void>;

beforeEach(() => {
  seen = [];
  const hang = new Promise<void>((resolve) => (release = resolve));
  let asked!: () => void;
  hanging = new Promise((resolve) => (asked = resolve));
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      seen.push({ method: req.method, path: url.pathname, authorization: req.headers.get("authorization"), body: await req.text() });
      switch (url.pathname) {
        case "/json":
          return Response.json({ ok: true, items: [1, 2] }, { headers: { "set-cookie": "sid=abc", "x-request-id": "r-1", "x-internal": "keep-out" } });
        case "/echo": // a server that reflects credentials back, as some debugging endpoints do
          return new Response(`auth=${req.headers.get("authorization")}`, { headers: { "x-echo": req.headers.get("authorization") ?? "" } });
        case "/moved":
          return new Response(null, { status: 302, headers: { location: "/json" } });
        case "/see-other":
          return new Response(null, { status: 303, headers: { location: "/echo" } });
        case "/off-list":
          return new Response(null, { status: 302, headers: { location: "http://evil.example.net/steal" } });
        case "/big":
          return new Response("x".repeat(5000));
        case "/fail":
          return new Response("broken", { status: 500 });
        case "/hang":
          asked();
          await hang;
          return new Response("late");
        default:
          return new Response("not found", { status: 404 });
      }
    },
  });
});

afterEach(async () => {
  await running.cleanup();
  release();
  await server.stop(true);
  temp.cleanup();
});

/** The built-in as the host starts it: config checked against plugin.yaml, permissions from it. */
async function start(config: Record<string, unknown>, overrides: Partial<PluginLaunch> = {}) {
  const checked = assertPluginConfig(MANIFEST, config, "plugins.config.http-request");
  const launch = makeLaunch(temp.make(), "builtin:http-request", "action", { config: checked, permissions: MANIFEST.permissions, secrets: { API_TOKEN: TOKEN, OTHER: "other-value" }, ...overrides });
  const instance = running.track(createWorkerInstance(launch, { logger: recordingLogger() }));
  await instance.start(within());
  return instance;
}

const local = { allowed_hosts: ["127.0.0.1"], allowed_schemes: ["http"], secret_env: ["API_TOKEN"] };
const base = () => `http://127.0.0.1:${server.port}`;
const run = (instance: Awaited<ReturnType<typeof start>>, parameters: Record<string, unknown>) => instance.execute(request("http", parameters), within());

test("GET: status, JSON body, redacted headers, duration", async () => {
  const http = await start({ ...local, redact_headers: ["X-Internal"] });
  const result = await run(http, { url: `${base()}/json` });
  expect(result.status).toBe("completed");
  expect(result.data).toMatchObject({ status: 200, body: { ok: true, items: [1, 2] }, body_format: "json", body_truncated: false, redirects: [] });
  const headers = result.data?.headers as Record<string, string>;
  expect(headers["set-cookie"]).toBe("[redacted]");
  expect(headers["x-internal"]).toBe("[redacted]");
  expect(headers["x-request-id"]).toBe("r-1");
  expect(typeof result.data?.duration_ms).toBe("number");
});

test("a ${env:…} secret is sent, and scrubbed from what comes back", async () => {
  const http = await start(local);
  const result = await run(http, { method: "post", url: `${base()}/echo`, headers: { Authorization: "Bearer ${env:API_TOKEN}" }, body: { restart: "nginx" } });
  expect(seen).toEqual([{ method: "POST", path: "/echo", authorization: `Bearer ${TOKEN}`, body: '{"restart":"nginx"}' }]);
  expect(result.data?.body).toBe("auth=Bearer [redacted]");
  expect((result.data?.headers as Record<string, string>)["x-echo"]).toBe("Bearer [redacted]");
  expect(JSON.stringify(result)).not.toContain(TOKEN);
});

test("redirects on the list are followed; 303 turns into GET without the body", async () => {
  const http = await start(local);
  const moved = await run(http, { url: `${base()}/moved` });
  expect(moved.data).toMatchObject({ status: 200, url: `${base()}/json`, redirects: [`${base()}/json`] });
  const other = await run(http, { method: "POST", url: `${base()}/see-other`, body: "payload", headers: { Authorization: "Bearer ${env:API_TOKEN}" } });
  expect(seen.slice(-1)).toEqual([{ method: "GET", path: "/echo", authorization: `Bearer ${TOKEN}`, body: "" }]);
  expect(other.data?.body).toBe("auth=Bearer [redacted]");
});

test("refused: a redirect to a host off the list", async () => {
  const http = await start(local);
  const result = await run(http, { url: `${base()}/off-list` });
  expect(result.status).toBe("failed");
  expect(result.error).toMatchObject({ code: "not_allowed" });
  expect(result.error?.message).toContain("host evil.example.net is not in allowed_hosts");
  expect(seen.map((s) => s.path)).toEqual(["/off-list"]);
});

test("refused: a host not on the list, an IP not listed exactly, a scheme not allowed", async () => {
  const byName = await start({ ...local, allowed_hosts: ["*.example.com", "localhost"] });
  const ip = await run(byName, { url: `${base()}/json` });
  expect(ip.error).toMatchObject({ code: "not_allowed", message: expect.stringContaining(`host 127.0.0.1:${server.port} is not in allowed_hosts`) });
  const other = await run(byName, { url: "http://example.org/" });
  expect(other.error?.message).toContain("host example.org is not in allowed_hosts");
  const https = await start({ allowed_hosts: ["127.0.0.1"] });
  expect((await run(https, { url: `${base()}/json` })).error?.message).toContain("scheme http is not in allowed_schemes (https)");
  expect(seen).toEqual([]);
});

test("refused: credentials in clear, and references outside secret_env", async () => {
  const http = await start(local);
  const cases: [Record<string, unknown>, string][] = [
    [{ headers: { Authorization: "Bearer abc123" } }, "parameters.headers.Authorization: looks like a credential in clear"],
    [{ headers: { "X-Api-Key": "k-123" } }, "parameters.headers.X-Api-Key: looks like a credential in clear"],
    [{ headers: { Authorization: "Basic abc ${env:API_TOKEN}" } }, "parameters.headers.Authorization: looks like a credential in clear"],
    [{ url: `http://admin:pw@127.0.0.1:${server.port}/json` }, "parameters.url: credentials in the URL are refused"],
    [{ url: `${base()}/json?api_key=abc` }, "parameters.url: query parameter api_key looks like a credential in clear"],
    [{ headers: { Authorization: "Bearer ${env:OTHER}" } }, "parameters.headers.Authorization: ${env:OTHER}: OTHER is not in secret_env (API_TOKEN)"],
  ];
  for (const [parameters, message] of cases) {
    const result = await run(http, { url: `${base()}/json`, ...parameters });
    expect(result.error, message).toMatchObject({ code: "not_allowed", message: expect.stringContaining(message) });
  }
  expect(seen).toEqual([]);
});

test("the response body is capped and the truncation marked", async () => {
  const http = await start(local);
  const result = await run(http, { url: `${base()}/big`, max_response_bytes: 100 });
  expect(result.data).toMatchObject({ body_bytes: 100, body_truncated: true, body_format: "text" });
  expect(result.data?.body).toBe("x".repeat(100));
});

test("a server that does not answer in time fails with timeout", async () => {
  const http = await start(local);
  const result = await run(http, { url: `${base()}/hang`, timeout_ms: 200 });
  expect(result.error).toMatchObject({ code: "timeout", retryable: true, message: expect.stringContaining("no response within 200 ms") });
});

test("aborting the call stops a request in flight", async () => {
  const http = await start(local);
  const controller = new AbortController();
  const pending = http.execute(request("http", { url: `${base()}/hang` }), { ...within(), signal: controller.signal });
  await hanging;
  controller.abort();
  const result = await settleWithin(pending, 3_000, "aborted request");
  expect(result.error).toMatchObject({ code: "aborted", message: expect.stringContaining(`${base()}/hang: aborted`) });
});

test("an unexpected status fails, retryable for 5xx; expected_status accepts it", async () => {
  const http = await start(local);
  const result = await run(http, { url: `${base()}/fail` });
  expect(result.error).toMatchObject({ code: "unexpected_status", retryable: true, message: expect.stringContaining("status 500, expected 2xx: broken") });
  expect((await run(http, { url: `${base()}/fail`, expected_status: [500, 503] })).data).toMatchObject({ status: 500, body: "broken" });
});

test("bad parameters fail naming the field; parameters cannot widen the config", async () => {
  const http = await start({ ...local, allowed_methods: ["GET"], timeout_ms: 1000 });
  const cases: [Record<string, unknown>, string][] = [
    [{}, "parameters.url:"],
    [{ url: `${base()}/json`, method: "BREW" }, "parameters.method: expected one of GET"],
    [{ url: `${base()}/json`, headers: { Host: "evil.example.net" } }, "parameters.headers.Host: this header is set by the agent"],
    [{ url: `${base()}/json`, nope: 1 }, "parameters.nope: unknown parameter"],
    [{ url: "not a url" }, "parameters.url: \"not a url\" is not an absolute URL"],
    [{ url: `${base()}/json`, method: "POST" }, "parameters.method: POST is not in allowed_methods (GET)"],
    [{ url: `${base()}/json`, timeout_ms: 5000 }, "parameters.timeout_ms: 5000 is over the configured timeout_ms 1000"],
  ];
  for (const [parameters, message] of cases) {
    const result = await run(http, parameters);
    expect(result.error?.message, message).toContain(message);
  }
  expect(seen).toEqual([]);
});

test("without permissions.network the real ctx.fetch refuses", async () => {
  const http = await start(local, { permissions: { ...MANIFEST.permissions, network: false } });
  const result = await run(http, { url: `${base()}/json` });
  expect(result.error?.message).toContain("permission denied: network");
});

test("a pattern cannot name addresses: the plugin refuses to start", async () => {
  const launch = makeLaunch(temp.make(), "builtin:http-request", "action", { config: assertPluginConfig(MANIFEST, { allowed_hosts: ["*.0.0.1"] }, "x"), permissions: MANIFEST.permissions });
  const instance = running.track(createWorkerInstance(launch, { logger: recordingLogger() }));
  await expect(instance.start(within())).rejects.toThrow("a pattern cannot name addresses");
});

test("testdata/sample.yaml is a valid config for both plugin.yaml and the plugin", () => {
  const sample = (Bun.YAML.parse(readFileSync(join(import.meta.dir, "testdata", "sample.yaml"), "utf8")) as { plugins: { config: Record<string, unknown> } }).plugins.config["http-request"];
  expect(v.parse(ConfigSchema, sample) as Record<string, unknown>).toEqual(assertPluginConfig(MANIFEST, sample, "plugins.config.http-request"));
});

test("plugin.yaml and the plugin's config schema agree on every default", () => {
  const minimal = { allowed_hosts: ["api.example.com"] };
  expect(v.parse(ConfigSchema, minimal) as Record<string, unknown>).toEqual(assertPluginConfig(MANIFEST, minimal, "x"));
});
