import { describe, expect, test } from "bun:test";
import { registerSecret } from "../redact.ts";
import { createHealthApp, isLoopbackAddress, type HealthAppOptions } from "./app.ts";
import { CONTENT_TYPE } from "./metrics.ts";
import { parseExposition } from "./_testkit.ts";

const TOKEN = "health-token-0123456789";

function app(overrides: Partial<HealthAppOptions> = {}) {
  return createHealthApp({
    healthPath: "/health",
    metricsPath: "/metrics",
    authToken: () => "",
    readiness: () => ({ ready: true, reasons: [] }),
    status: async () => ({ agent: { id: "a-1" }, api_key: "shh-its-a-secret", note: "Authorization: Bearer abcdefghijkl" }),
    metrics: async () => "# HELP x_total X\n# TYPE x_total counter\nx_total 1\n",
    ...overrides,
  });
}

describe("health app", () => {
  test("/health answers 200, on health.path too", async () => {
    expect((await app().request("/health")).status).toBe(200);
    const custom = app({ healthPath: "/livez" });
    expect((await custom.request("/livez")).status).toBe(200);
    expect((await custom.request("/health")).status).toBe(404);
  });

  test("/ready is 200 when ready and 503 with the reasons when not", async () => {
    const ready = await app().request("/ready");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, reasons: [] });
    const reasons = ["not registered with the orchestrator yet", "plugins are still loading"];
    const notReady = await app({ readiness: () => ({ ready: false, reasons }) }).request("/ready");
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ ready: false, reasons });
  });

  test("/status is JSON with secrets redacted", async () => {
    registerSecret("a-loaded-secret-value");
    const response = await app({ status: async () => ({ agent: { id: "a-1" }, api_key: "shh", note: "Authorization: Bearer abcdefghijkl", leaked: "x a-loaded-secret-value y" }) }).request(
      "/status",
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body.agent).toEqual({ id: "a-1" });
    expect(body.api_key).toBe("[REDACTED]");
    expect(body.note).not.toContain("abcdefghijkl");
    expect(body.leaked).toBe("x [REDACTED] y");
  });

  test("/metrics is the text format; absent when metrics are off", async () => {
    const response = await app().request("/metrics");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe(CONTENT_TYPE);
    expect(parseExposition(await response.text()).value("x_total")).toBe(1);
    expect((await app({ metricsPath: undefined }).request("/metrics")).status).toBe(404);
  });

  test("a metrics-only app serves nothing else", async () => {
    const only = app({ metricsOnly: true });
    expect((await only.request("/metrics")).status).toBe(200);
    for (const path of ["/health", "/ready", "/status"]) expect((await only.request(path)).status).toBe(404);
  });

  describe("health.auth_token", () => {
    const guarded = app({ authToken: () => TOKEN });
    const get = (path: string, authorization?: string) => guarded.request(path, authorization ? { headers: { authorization } } : {});

    test("missing or wrong token: 401 on /status and /metrics", async () => {
      for (const path of ["/status", "/metrics"]) {
        const missing = await get(path);
        expect(missing.status).toBe(401);
        expect(missing.headers.get("www-authenticate")).toContain("Bearer");
        expect(((await missing.json()) as { error: string }).error).toMatch(/missing bearer token/);
        expect((await get(path, `Bearer ${TOKEN}x`)).status).toBe(401);
        expect((await get(path, "Bearer short")).status).toBe(401);
        expect((await get(path, `Basic ${TOKEN}`)).status).toBe(401);
      }
    });

    test("right token: 200", async () => {
      expect((await get("/status", `Bearer ${TOKEN}`)).status).toBe(200);
      expect((await get("/metrics", `bearer ${TOKEN}`)).status).toBe(200);
    });

    test("/health and /ready stay open", async () => {
      expect((await get("/health")).status).toBe(200);
      expect((await get("/ready")).status).toBe(200);
    });
  });

  describe("debug.enabled", () => {
    const LOCAL = { remoteAddress: "127.0.0.1" };
    const debug = (overrides: Partial<HealthAppOptions> = {}) => app({ debug: () => true, ...overrides });

    test("off by default, and when debug.enabled is false: 404", async () => {
      for (const off of [app(), app({ debug: () => false })]) {
        for (const path of ["/debug/heap", "/debug/profile?seconds=1"]) expect((await off.request(path, {}, LOCAL)).status).toBe(404);
      }
    });

    test("on: /debug/heap is a heap snapshot, as a JSON download", async () => {
      const response = await debug().request("/debug/heap", {}, LOCAL);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/json");
      expect(response.headers.get("content-disposition")).toMatch(/^attachment; filename="stavily-\d+-.+\.heapsnapshot"$/);
      const snapshot = JSON.parse(await response.text()) as { snapshot: { meta: unknown; node_count: number }; nodes: number[]; strings: string[] };
      expect(snapshot.snapshot.meta).toBeDefined();
      expect(snapshot.nodes.length).toBeGreaterThan(0);
      expect(snapshot.strings.length).toBeGreaterThan(0);
    });

    test("on: /debug/profile?seconds=1 samples the JS thread for a second", async () => {
      const started = performance.now();
      let spins = 0;
      const busy = setInterval(() => {
        const until = performance.now() + 2;
        while (performance.now() < until) spins++;
      }, 5);
      const idle: number[] = [];
      const env = { ...LOCAL, allowIdle: (seconds: number) => idle.push(seconds) };
      const response = await Promise.resolve(debug().request("/debug/profile?seconds=1", {}, env)).finally(() => clearInterval(busy));
      // Outlives Bun's 10 s idle timeout (a 12 s profile over a real socket was reset without it).
      expect(idle).toEqual([31]);
      expect(performance.now() - started).toBeGreaterThanOrEqual(950);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-disposition")).toMatch(/^attachment; filename=".+\.cpuprofile\.json"$/);
      const body = (await response.json()) as { seconds: number; functions: string; stackTraces: { interval: number; traces: unknown[] } };
      expect(body.seconds).toBe(1);
      expect(body.functions).toContain("Total samples");
      expect(body.stackTraces.traces.length).toBeGreaterThan(0);
      expect(spins).toBeGreaterThan(0);
    });

    test("bad seconds: 400 naming the field", async () => {
      for (const seconds of ["0", "61", "abc", "1.5", "-1", "", "100"]) {
        const response = await debug().request(`/debug/profile?seconds=${seconds}`, {}, LOCAL);
        expect(response.status).toBe(400);
        expect(((await response.json()) as { error: string }).error).toStartWith("seconds: expected a whole number of seconds from 1 to 60");
      }
    });

    test("a second profile while one runs: 409", async () => {
      const on = debug();
      const first = on.request("/debug/profile?seconds=1", {}, LOCAL);
      const second = await on.request("/debug/profile?seconds=1", {}, LOCAL);
      expect(second.status).toBe(409);
      expect((await first).status).toBe(200);
    });

    test("not loopback, or the address unknown: 403, even with the right token", async () => {
      const on = debug({ authToken: () => TOKEN });
      const headers = { authorization: `Bearer ${TOKEN}` };
      for (const env of [{ remoteAddress: "10.1.2.3" }, { remoteAddress: "::ffff:192.168.0.9" }, { remoteAddress: "2001:db8::1" }, {}, undefined]) {
        for (const path of ["/debug/heap", "/debug/profile"]) {
          const response = await on.request(path, { headers }, env);
          expect(response.status).toBe(403);
          expect(((await response.json()) as { error: string }).error).toContain("loopback clients only");
        }
      }
    });

    test("health.auth_token guards them like /status", async () => {
      const on = debug({ authToken: () => TOKEN });
      expect((await on.request("/debug/heap", {}, LOCAL)).status).toBe(401);
      expect((await on.request("/debug/profile?seconds=1", { headers: { authorization: `Bearer ${TOKEN}x` } }, LOCAL)).status).toBe(401);
      expect((await on.request("/debug/profile?seconds=0", { headers: { authorization: `Bearer ${TOKEN}` } }, LOCAL)).status).toBe(400);
      expect((await on.request("/debug/heap", { headers: { authorization: `Bearer ${TOKEN}` } }, { remoteAddress: "::1" })).status).toBe(200);
    });

    test("loopback addresses", () => {
      for (const address of ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "[::1]", "0:0:0:0:0:0:0:1"]) expect(isLoopbackAddress(address)).toBe(true);
      for (const address of ["10.0.0.1", "0.0.0.0", "::", "::ffff:10.0.0.1", "128.0.0.1", "fe80::1", "localhost", "127.0.0.1.evil"]) expect(isLoopbackAddress(address)).toBe(false);
    });
  });
});
