import { describe, expect, test } from "bun:test";
import { registerSecret } from "../redact.ts";
import { createHealthApp, type HealthAppOptions } from "./app.ts";
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
});
