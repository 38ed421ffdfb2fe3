import { afterEach, describe, expect, test } from "bun:test";
import { StavilyError } from "../errors.ts";
import { json, makeClient, makeConfig, recordingLogger, startServer, tempDirs, type TestServer } from "../api/_testkit.ts";
import type { Config } from "../config/index.ts";
import { createAgentMetrics } from "./agent-metrics.ts";
import { startAgentServer, type AgentServer } from "./agent-server.ts";
import { checkReadiness, type ReadinessInputs } from "./readiness.ts";
import { serve } from "./serve.ts";
import { parseExposition } from "./_testkit.ts";

const dirs = tempDirs();
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  dirs.cleanup();
});

const SUMMARY = {
  echo: { version: "1.0.0", source: "builtin", instances: { echo: { state: "running", stats: { runs: 5, failures: 1, timeouts: 0, kills: 0, restarts: 2, crashes: 2, skipped: 0 } } } },
  flaky: { version: "0.1.0", source: "installed", instances: { "flaky-a": { state: "quarantined", stats: { runs: 3, failures: 3, timeouts: 0, kills: 0, restarts: 3, crashes: 4, skipped: 0 } } } },
  events: { detected: 10, suppressed: 2, dropped: 1, spool: { events: 4, bytes: 900 }, delivered: 3 },
  outputs: {},
};

function orchestrator(): TestServer {
  const server = startServer((request, hit) => {
    if (hit.path.endsWith("/heartbeat")) return json({ cancel_instructions: [] });
    if (hit.path.endsWith("/result")) return json({ acknowledged: true });
    if (request.method === "PUT") return json({ success: true, instruction_id: "i-1" });
    return new Response("nope", { status: 503 });
  });
  cleanups.push(() => server.stop());
  return server;
}

function start(config: Config, overrides: { registration?: ReadinessInputs["registration"] } = {}) {
  const metrics = createAgentMetrics({ namespace: config.metrics.namespace, version: "1.2.3", agentType: "action", plugins: async () => SUMMARY, ready: () => server.readiness().ready });
  const { client } = makeClient(config, { onCall: metrics.onCall });
  cleanups.push(() => client.close());
  const api = metrics.instrument(client);
  const server: AgentServer = startAgentServer({
    config: () => config,
    api,
    metrics,
    logger: recordingLogger(),
    version: "1.2.3",
    startedAt: Date.now() - 5_000,
    plugins: async () => SUMMARY,
    registration: () => overrides.registration ?? "registered",
    runtime: () => "running",
    stopping: () => false,
  });
  cleanups.push(() => server.stop());
  return { server, api };
}

describe("agent server", () => {
  test("serves /health, /ready, /status and /metrics on a free port; metrics count calls by route template", async () => {
    const orch = orchestrator();
    const config = makeConfig(dirs.make(), orch.url, ["api.retry_attempts=0", "metrics.namespace=stv"]);
    const { server, api } = start(config);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    // Not reached yet: nothing has been sent.
    const before = await fetch(`${server.url}/ready`);
    expect(before.status).toBe(503);
    expect(((await before.json()) as { reasons: string[] }).reasons).toContain("the orchestrator has not been reached yet");

    await api.heartbeat({ timestamp: new Date().toISOString(), status: "online" });
    await api.update("i-1", { status: "executing" });
    await api.result("i-1", { status: "completed", result: {} });
    await api.poll().catch(() => undefined);
    expect((await fetch(`${server.url}/ready`)).status).toBe(200);

    const status = (await (await fetch(`${server.url}/status`)).json()) as any;
    expect(status).toMatchObject({ agent: { id: "agent-1", type: "action" }, version: "1.2.3", ready: true, spool: { events: 4, bytes: 900 } });
    expect(status.uptime_seconds).toBeGreaterThanOrEqual(5);
    expect(status.components.orchestrator.last_error).toContain("503");
    expect(status.plugins.flaky.instances["flaky-a"].state).toBe("quarantined");

    const text = await (await fetch(`${server.url}/metrics`)).text();
    const metrics = parseExposition(text);
    expect(metrics.value("stv_heartbeats_total", { result: "sent" })).toBe(1);
    expect(metrics.value("stv_http_requests_total", { method: "POST", endpoint: "/agents/v1/{id}/heartbeat", code: "200" })).toBe(1);
    expect(metrics.value("stv_http_requests_total", { method: "PUT", endpoint: "/agents/v1/{id}/instructions/{instruction_id}", code: "200" })).toBe(1);
    expect(metrics.value("stv_http_requests_total", { endpoint: "/agents/v1/{id}/instructions/{instruction_id}/result", code: "200" })).toBe(1);
    expect(metrics.value("stv_http_requests_total", { method: "GET", endpoint: "/agents/v1/{id}/instructions", code: "503" })).toBe(1);
    expect(text).not.toContain("i-1");
    expect(metrics.value("stv_instructions_total", { status: "completed" })).toBe(1);
    expect(metrics.value("stv_instruction_duration_seconds_count", { status: "completed" })).toBe(1);
    expect(metrics.value("stv_events_total", { stage: "detected" })).toBe(10);
    expect(metrics.value("stv_events_total", { stage: "delivered" })).toBe(3);
    expect(metrics.value("stv_events_total", { stage: "dropped" })).toBe(1);
    expect(metrics.value("stv_spool_events")).toBe(4);
    expect(metrics.value("stv_plugin_restarts_total", { plugin: "echo", instance: "echo" })).toBe(2);
    expect(metrics.value("stv_plugin_quarantined", { plugin: "flaky", instance: "flaky-a" })).toBe(1);
    expect(metrics.value("stv_process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(metrics.value("stv_process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(metrics.value("stv_ready")).toBe(1);
    expect(metrics.value("stv_build_info", { version: "1.2.3", agent_type: "action" })).toBe(1);
  });

  test("a failed heartbeat is counted as failed, with the error kind as the code", async () => {
    const orch = orchestrator();
    const config = makeConfig(dirs.make(), orch.url, ["api.retry_attempts=0"]);
    orch.stop();
    const { server, api } = start(config);
    await expect(api.heartbeat({ timestamp: new Date().toISOString(), status: "online" })).rejects.toThrow();
    const metrics = parseExposition(await (await fetch(`${server.url}/metrics`)).text());
    expect(metrics.value("stavily_heartbeats_total", { result: "failed" })).toBe(1);
    expect(metrics.value("stavily_http_requests_total", { endpoint: "/agents/v1/{id}/heartbeat", code: "network" })).toBe(1);
  });

  test("metrics.port serves metrics on a second server; metrics.enabled false removes them", async () => {
    const orch = orchestrator();
    const free = serve({ hostname: "127.0.0.1", port: 0, portKey: "x", fetch: () => new Response() });
    const port = free.port;
    await free.stop();
    const { server } = start(makeConfig(dirs.make(), orch.url, [`metrics.port=${port}`]));
    expect(server.metricsUrl).toBe(`http://127.0.0.1:${port}`);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${server.metricsUrl}/metrics`)).status).toBe(200);
    expect((await fetch(`${server.metricsUrl}/status`)).status).toBe(404);

    const off = start(makeConfig(dirs.make(), orch.url, ["metrics.enabled=false"]));
    expect((await fetch(`${off.server.url}/metrics`)).status).toBe(404);
  });

  test("debug.enabled: /debug/* answer a loopback client of the real server; off by default", async () => {
    const orch = orchestrator();
    const off = start(makeConfig(dirs.make(), orch.url));
    expect((await fetch(`${off.server.url}/debug/heap`)).status).toBe(404);

    const { server } = start(makeConfig(dirs.make(), orch.url, ["debug.enabled=true"]));
    const bad = await fetch(`${server.url}/debug/profile?seconds=61`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^seconds: /);
    const profile = await fetch(`${server.url}/debug/profile?seconds=1`);
    expect(profile.status).toBe(200);
    expect(((await profile.json()) as { seconds: number }).seconds).toBe(1);
  });

  test("a port in use is a start-up error naming the config key", async () => {
    const orch = orchestrator();
    const taken = serve({ hostname: "127.0.0.1", port: 0, portKey: "x", fetch: () => new Response() });
    cleanups.push(() => taken.stop());
    const attempt = () => start(makeConfig(dirs.make(), orch.url, [`health.port=${taken.port}`]));
    expect(attempt).toThrow(StavilyError);
    expect(attempt).toThrow(new RegExp(`health\\.port: 127\\.0\\.0\\.1:${taken.port} is already in use .*set health\\.port to 0 to pick a free port, or choose another port`));
  });
});

describe("readiness", () => {
  const base: ReadinessInputs = { now: 100_000, heartbeatMs: 1_000, registration: "registered", lastSuccessAt: 99_000, authFailing: false, runtime: "running", stopping: false };

  test("ready when registered (or unsupported), recently reached, and running", () => {
    expect(checkReadiness(base)).toEqual({ ready: true, reasons: [] });
    expect(checkReadiness({ ...base, registration: "unsupported" }).ready).toBe(true);
  });

  test("each rule gives its reason", () => {
    const reasons = (inputs: Partial<ReadinessInputs>) => checkReadiness({ ...base, ...inputs }).reasons;
    expect(reasons({ registration: "pending" })).toEqual(["not registered with the orchestrator yet"]);
    expect(reasons({ lastSuccessAt: 96_000, lastError: "boom" })).toEqual(["the orchestrator was last reached 4s ago (more than 3 heartbeats) (last error: boom)"]);
    expect(reasons({ lastSuccessAt: 97_000 })).toEqual([]);
    expect(reasons({ lastSuccessAt: undefined })).toEqual(["the orchestrator has not been reached yet"]);
    expect(reasons({ authFailing: true })).toEqual(["the orchestrator refuses the agent's token"]);
    expect(reasons({ runtime: "starting" })).toEqual(["plugins are still loading"]);
    expect(reasons({ runtime: "stopped" })).toEqual(["the runtime has stopped"]);
    expect(reasons({ stopping: true })).toEqual(["the agent is stopping"]);
  });

  test("the runtime's own problems (a spool on a full disk) make it not ready, each a reason", () => {
    const full = "events cannot be spooled: event spool /x/events.db: append failed: database or disk is full";
    expect(checkReadiness({ ...base, problems: [full] })).toEqual({ ready: false, reasons: [full] });
    expect(checkReadiness({ ...base, problems: [] })).toEqual({ ready: true, reasons: [] });
  });
});
