import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { assertPluginConfig, parseManifest, pluginConfigSchema } from "../../../src/core/plugin/manifest/index.ts";
import type { PluginLaunch } from "../../../src/core/plugin/types.ts";
import { createWorkerInstance } from "../../../src/core/plugin/worker/index.ts";
import { instances, makeLaunch, recordingLogger, tempDirs, within } from "../../../src/core/plugin/worker/_test-support.ts";
import { ConfigSchema } from "./_schema.ts";

const MANIFEST = parseManifest(readFileSync(join(import.meta.dir, "plugin.yaml"), "utf8"), join(import.meta.dir, "plugin.yaml"));

const temp = tempDirs();
const running = instances();
/** What the server answers: a status, after a delay. */
let mode: { status: number; delayMs: number };
let server: ReturnType<typeof Bun.serve>;
let release: () => void;
let hang: Promise<void>;

beforeEach(() => {
  mode = { status: 200, delayMs: 0 };
  hang = new Promise((resolve) => (release = resolve));
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      if (new URL(req.url).pathname === "/hang") {
        await hang;
        return new Response("late");
      }
      // The delay is what http.slow measures, not a way to wait for something.
      if (mode.delayMs > 0) await Bun.sleep(mode.delayMs);
      return new Response("body", { status: mode.status });
    },
  });
});

afterEach(async () => {
  await running.cleanup();
  release();
  await server.stop(true);
  temp.cleanup();
});

/** The built-in as an agent starts it: config checked against plugin.yaml, permissions from it. */
async function start(home: string, config: Record<string, unknown>, overrides: Partial<PluginLaunch> = {}) {
  const checked = assertPluginConfig(MANIFEST, config, "plugins.config.http-check");
  const launch = makeLaunch(home, "builtin:http-check", "trigger", { config: checked, permissions: MANIFEST.permissions, ...overrides });
  const instance = running.track(createWorkerInstance(launch, { logger: recordingLogger() }));
  await instance.start(within());
  return instance;
}

const base = () => `http://127.0.0.1:${server.port}`;
const types = async (instance: Awaited<ReturnType<typeof start>>) => (await instance.detect(within())).map((event) => event.type);

test("a wrong status is http.down once; the next good answer is http.down.resolved", async () => {
  const check = await start(temp.make(), { url: `${base()}/health` });
  expect(await check.detect(within())).toEqual([]);
  mode.status = 503;
  const [down] = await check.detect(within());
  expect(down).toEqual({
    type: "http.down",
    severity: "high",
    data: { url: `${base()}/health`, reason: "status", status: 503, expected_status: "2xx or 3xx", latency_ms: expect.any(Number) },
    dedupe_key: `http.down:${base()}/health`,
    id: expect.any(String),
  });
  expect(await check.detect(within())).toEqual([]); // still down: reported once
  mode.status = 200;
  const [resolved] = await check.detect(within());
  expect(resolved).toMatchObject({ type: "http.down.resolved", severity: "low", data: { status: 200, duration_ms: expect.any(Number) }, dedupe_key: `http.down:${base()}/health` });
});

test("expected_status lists the statuses that count as up", async () => {
  const check = await start(temp.make(), { url: base(), expected_status: [204] });
  const [down] = await check.detect(within());
  expect(down?.data).toMatchObject({ reason: "status", status: 200, expected_status: [204] });
});

test("slower than latency_threshold_ms is http.slow, and resolved when fast again", async () => {
  const check = await start(temp.make(), { url: base(), latency_threshold_ms: 100 });
  mode.delayMs = 250;
  const [slow] = await check.detect(within());
  expect(slow).toMatchObject({ type: "http.slow", severity: "medium", data: { threshold_ms: 100 } });
  expect(slow?.data?.latency_ms as number).toBeGreaterThan(100);
  mode.delayMs = 0;
  expect(await types(check)).toEqual(["http.slow.resolved"]);
});

test("no answer within timeout_ms is http.down with reason timeout", async () => {
  const check = await start(temp.make(), { url: `${base()}/hang`, timeout_ms: 200 });
  const [down] = await check.detect(within());
  expect(down).toMatchObject({ type: "http.down", data: { reason: "timeout", error: "no response within 200 ms" } });
});

test("a refused connection is http.down with reason error", async () => {
  const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = closed.port;
  await closed.stop(true);
  const check = await start(temp.make(), { url: `http://127.0.0.1:${port}/` });
  const [down] = await check.detect(within());
  expect(down).toMatchObject({ type: "http.down", data: { reason: "error", error: expect.any(String) } });
});

test("restart: an active condition is not reported again, and is resolved by the new instance", async () => {
  const home = temp.make();
  const config = { url: base() };
  mode.status = 500;
  const first = await start(home, config);
  expect(await types(first)).toEqual(["http.down"]);
  await first.stop(within());
  const second = await start(home, config);
  expect(await types(second)).toEqual([]);
  mode.status = 200;
  expect(await types(second)).toEqual(["http.down.resolved"]);
});

test("without permissions.network the check is refused, not reported as down", async () => {
  const check = await start(temp.make(), { url: base() }, { permissions: { ...MANIFEST.permissions, network: false } });
  const refused = await check.detect(within()).then(() => undefined, (error: Error & { code?: string }) => error);
  expect(refused).toMatchObject({ code: "permission_denied", message: expect.stringContaining("permissions.network is false") });
});

test("credentials in the URL are not reported", async () => {
  mode.status = 500;
  const check = await start(temp.make(), { url: `http://user:pw@127.0.0.1:${server.port}/x` });
  const [down] = await check.detect(within());
  expect(JSON.stringify(down)).not.toContain("pw");
});

test("plugin.yaml and the config schema agree on every default", () => {
  const config = { url: "https://example.com/" };
  expect(v.parse(ConfigSchema, config)).toEqual(v.parse(pluginConfigSchema(MANIFEST), config) as never);
});

// A certificate made by openssl for this run, served by Bun.serve over TLS.
let certs: string;
const makeCert = (name: string, days: number) => {
  const run = Bun.spawnSync(
    ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", join(certs, `${name}.key`), "-out", join(certs, `${name}.crt`),
      "-days", String(days), "-subj", "/CN=stavily-test", "-addext", "subjectAltName=IP:127.0.0.1"],
    { stderr: "pipe" },
  );
  if (run.exitCode !== 0) throw new Error(`openssl: ${run.stderr.toString()}`);
  return { cert: readFileSync(join(certs, `${name}.crt`), "utf8"), key: readFileSync(join(certs, `${name}.key`), "utf8") };
};
let soon: { cert: string; key: string };
let later: { cert: string; key: string };
const certTemp = tempDirs();
beforeAll(() => {
  certs = certTemp.make();
  soon = makeCert("soon", 5);
  later = makeCert("later", 400);
});
afterAll(() => certTemp.cleanup());

function serveTls(tls: { cert: string; key: string }) {
  return Bun.serve({ port: 0, hostname: "127.0.0.1", tls, fetch: () => new Response("ok") });
}

test("a certificate with fewer days left than tls_days_threshold is tls.expiring", async () => {
  const tlsServer = serveTls(soon);
  try {
    const check = await start(temp.make(), { url: `https://127.0.0.1:${tlsServer.port}/`, tls_verify: false, tls_days_threshold: 30, tls_check_interval_s: 0 });
    const events = await check.detect(within());
    expect(events).toEqual([
      {
        type: "tls.expiring",
        severity: "high",
        data: {
          url: `https://127.0.0.1:${tlsServer.port}/`,
          host: `127.0.0.1:${tlsServer.port}`,
          days_left: 4, // made with -days 5, a moment ago
          valid_to: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          threshold_days: 30,
          subject: "stavily-test",
          issuer: "stavily-test",
          trusted: false,
          trust_error: expect.any(String),
        },
        dedupe_key: `tls.expiring:https://127.0.0.1:${tlsServer.port}/`,
        id: expect.any(String),
      },
    ]);
    const validTo = Date.parse(events[0]!.data!.valid_to as string);
    expect(validTo - Date.now()).toBeGreaterThan(4 * 86_400_000);
    expect(await check.detect(within())).toEqual([]);
  } finally {
    await tlsServer.stop(true);
  }
});

test("a certificate far from expiry reports nothing; with tls_verify an untrusted one makes the URL down", async () => {
  const tlsServer = serveTls(later);
  try {
    const url = `https://127.0.0.1:${tlsServer.port}/`;
    const relaxed = await start(temp.make(), { url, tls_verify: false, tls_days_threshold: 30 });
    expect(await relaxed.detect(within())).toEqual([]);
    const strict = await start(temp.make(), { url, tls_days_threshold: 30 });
    const [down] = await strict.detect(within());
    expect(down).toMatchObject({ type: "http.down", data: { reason: "error" } });
  } finally {
    await tlsServer.stop(true);
  }
});

test("testdata/sample.yaml is a valid config for both plugin.yaml and the plugin", () => {
  const sample = (Bun.YAML.parse(readFileSync(join(import.meta.dir, "testdata", "sample.yaml"), "utf8")) as { sensor: { triggers: { config: Record<string, unknown> }[] } }).sensor.triggers[0]!.config;
  expect(v.parse(ConfigSchema, sample) as Record<string, unknown>).toEqual(assertPluginConfig(MANIFEST, sample, "sensor.triggers.0.config"));
});
