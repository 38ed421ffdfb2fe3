/**
 * The agent's health server with the compiled binary: /ready follows the orchestrator going away
 * and coming back on the same port, the auth token guards /metrics, a taken port stops a second
 * agent at start, and `stavily health` exits 0 or 1.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseExposition } from "../../src/core/server/_testkit.ts";
import { writeAgentConfig } from "../support/agents.ts";
import { hostBinary } from "../support/binary.ts";
import { runCli } from "../support/cli.ts";
import { killAll, startProcess, waitUntil, type TestProcess } from "../support/process.ts";

const ADMIN = "test-admin-token-0123456789";
const HEALTH_TOKEN = "health-token-abcdef0123";
const dir = mkdtempSync(join(tmpdir(), "stavily-health-"));
let binary: string;
let orchestratorPort: number;
let baseUrl: string;

function startOrchestrator(port: number): TestProcess {
  return startProcess([binary, "orchestrator", "--db", join(dir, "orchestrator.db"), "--listen", `127.0.0.1:${port}`, "--insecure-dev", "--admin-token", ADMIN]);
}

beforeAll(async () => {
  binary = await hostBinary();
});

afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

function agentConfig(name: string, extra: string[] = []): string {
  return writeAgentConfig(dir, { type: "action", id: name, baseDir: join(dir, "agents"), url: baseUrl, extra: ["api:", "  retry_delay: 100ms", ...extra] });
}

const status = (url: string, init?: RequestInit) =>
  fetch(url, init).then(
    (response) => response.status,
    () => undefined,
  );

describe("the agent's health server", () => {
  test("/ready turns 503 when the orchestrator goes away and 200 when it is back; health probes and guards", async () => {
    let orchestrator = startOrchestrator(0);
    baseUrl = (await orchestrator.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
    orchestratorPort = Number(new URL(baseUrl).port);

    const config = agentConfig("e2e-health", ["health:", `  auth_token: ${HEALTH_TOKEN}`]);
    const agent = startProcess([binary, "action", "-c", config]);
    const health = (await agent.waitFor(/health server listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;

    expect(await status(`${health}/health`)).toBe(200);
    await waitUntil(async () => ((await status(`${health}/ready`)) === 200 ? true : undefined), "the agent to be ready");
    const ok = await runCli(["health", "--url", health], { binary });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`ok: ${health}/ready answered 200`);
    expect((await runCli(["health", "--url", health, "--live"], { binary })).code).toBe(0);

    // Port 0 cannot be probed from the config alone.
    const fromConfig = await runCli(["health", "-c", config], { binary });
    expect(fromConfig.code).toBe(1);
    expect(fromConfig.stderr).toContain("health.port is 0");

    // The token guards /status and /metrics, not the probes.
    expect(await status(`${health}/metrics`)).toBe(401);
    expect(await status(`${health}/status`, { headers: { authorization: "Bearer wrong-token-000000" } })).toBe(401);
    const metrics = await fetch(`${health}/metrics`, { headers: { authorization: `Bearer ${HEALTH_TOKEN}` } });
    expect(metrics.status).toBe(200);
    const parsed = parseExposition(await metrics.text());
    expect(parsed.value("stavily_heartbeats_total", { result: "sent" })).toBeGreaterThan(0);
    expect(parsed.value("stavily_http_requests_total", { method: "POST", endpoint: "/agents/v1/{id}/register", code: "200" })).toBe(1);
    const statusDoc = (await (await fetch(`${health}/status`, { headers: { authorization: `Bearer ${HEALTH_TOKEN}` } })).json()) as any;
    expect(statusDoc.agent.id).toBe("e2e-health");
    expect(statusDoc.components.registration).toBe("registered");
    expect(JSON.stringify(statusDoc)).not.toContain("e2e-agent-token-abcdef");

    // The orchestrator goes away: within about three heartbeats the agent is not ready, but still live.
    orchestrator.kill("SIGKILL");
    await orchestrator.exited;
    const reasons = await waitUntil(async () => {
      const response = await fetch(`${health}/ready`);
      return response.status === 503 ? ((await response.json()) as { reasons: string[] }).reasons : undefined;
    }, "/ready to answer 503");
    expect(reasons.join("\n")).toMatch(/the orchestrator was last reached \d+s ago/);
    expect(await status(`${health}/health`)).toBe(200);
    const down = await runCli(["health", "--url", health], { binary });
    expect(down.code).toBe(1);
    expect(down.stdout).toMatch(/^not ready: .*answered 503: the orchestrator was last reached/);

    // Back on the same port: ready again.
    orchestrator = startOrchestrator(orchestratorPort);
    await orchestrator.waitFor(/listening on/);
    await waitUntil(async () => ((await status(`${health}/ready`)) === 200 ? true : undefined), "/ready to answer 200 again");

    // A second agent on the same health port stops at start, naming the key.
    const port = new URL(health).port;
    const clash = startProcess([binary, "action", "-c", agentConfig("e2e-health-2", ["health:", `  port: ${port}`])]);
    expect(await clash.exited).toBe(1);
    expect(clash.output()).toContain(`health.port: 127.0.0.1:${port} is already in use`);
    expect(clash.output()).toContain("set health.port to 0 to pick a free port, or choose another port");

    agent.kill("SIGTERM");
    expect(await agent.exited).toBe(0);
    // Nothing answers any more.
    expect((await runCli(["health", "--url", health], { binary })).code).toBe(1);
  }, 120_000);
});
