/**
 * The agent ↔ orchestrator loop with the compiled binary: `stavily orchestrator` and `stavily action`
 * as real processes talking HTTP on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOrchestrator, writeAgentConfig } from "../support/agents.ts";
import { hostBinary } from "../support/binary.ts";
import { killAll, startProcess, waitUntil, type TestProcess } from "../support/process.ts";

const ADMIN = "test-admin-token-0123456789";
const dir = mkdtempSync(join(tmpdir(), "stavily-loop-"));
let binary: string;
let orchestrator: TestProcess;
let baseUrl: string;

async function admin(path: string, init: RequestInit = {}): Promise<any> {
  const response = await fetch(`${baseUrl}/api/v1${path}`, {
    ...init,
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json", ...init.headers },
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

beforeAll(async () => {
  binary = await hostBinary();
  ({ process: orchestrator, url: baseUrl } = await startOrchestrator(binary, { db: join(dir, "orchestrator.db"), adminToken: ADMIN }));
});

afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

function actionConfig(name: string, extra: string[] = []): string {
  // Minutes between polls: only the long poll can deliver an instruction in time.
  return writeAgentConfig(dir, { type: "action", id: name, baseDir: join(dir, "agents"), url: baseUrl, extra: ["agent:", "  poll_interval: 10m", ...extra] });
}

describe("stavily action with stavily orchestrator", () => {
  test("SIGHUP reloads the config, and a broken one is refused while the agent keeps running", async () => {
    const file = actionConfig("e2e-reload", ["logging:", "  level: info"]);
    const agent = startProcess([binary, "action", "-c", file]);
    await agent.waitFor(/registered with the orchestrator/);

    writeFileSync(file, "agent:\n  type: action\n  heartbeat: sometimes\n");
    agent.kill("SIGHUP");
    await agent.waitFor(/config reload refused; keeping the running config[\s\S]*agent\.heartbeat: expected a duration/);

    actionConfig("e2e-reload", ["logging:", "  level: debug"]);
    agent.kill("SIGHUP");
    await agent.waitFor(/config reloaded/);

    agent.kill("SIGTERM");
    expect(await agent.exited).toBe(0);
  }, 60_000);

  test("registers, heartbeats, gets an instruction through the long poll, reports, and goes offline on SIGTERM", async () => {
    const config = actionConfig("e2e-action", ["logging:", "  level: debug"]);
    const agent = startProcess([binary, "action", "-c", config]);
    await agent.waitFor(/registered with the orchestrator/);

    const online = await waitUntil(async () => {
      const { agents } = await admin("/agents");
      const found = agents.find((item: any) => item.id === "e2e-action");
      return found?.status === "online" && found.last_heartbeat ? found : undefined;
    }, "the agent to be online");
    expect(online.agent_type ?? online.type).toBe("action");

    // The agent's long poll is open now; the instruction must reach it through that poll.
    await agent.waitFor(/taking instructions in 4 slots/);
    const created = await admin("/instructions", {
      method: "POST",
      body: JSON.stringify({ agent_id: "e2e-action", plugin_id: "does-not-exist", instruction_type: "execute", input_data: { x: 1 } }),
    });
    const id = created.id ?? created.instruction?.id;
    const finished = await waitUntil(async () => {
      const instruction = await admin(`/instructions/${id}`);
      const body = instruction.instruction ?? instruction;
      return body.status === "failed" ? body : undefined;
    }, "the instruction's result", 15_000);
    expect(JSON.stringify(finished)).toContain('plugin \\"does-not-exist\\" is not installed');

    agent.kill("SIGTERM");
    expect(await agent.exited).toBe(0);
    expect(agent.output()).toContain("offline heartbeat sent; stopped");
    const after = await admin("/agents");
    expect(after.agents.find((item: any) => item.id === "e2e-action").status).toBe("offline");

    // The agent audited by default: the chain verifies, and holds this instruction's records.
    const verify = startProcess([binary, "audit", "verify", "-c", config]);
    expect(await verify.exited).toBe(0);
    expect(verify.output()).toMatch(/ok: \d+ records in 1 files?, chain intact/);
    const records = readFileSync(join(dir, "agents", "agent-e2e-action", "logs", "audit", "audit.log"), "utf8");
    for (const event of ["config.load", "instruction.received", "instruction.finished"]) expect(records).toContain(`"event":"${event}"`);
  }, 60_000);
});
