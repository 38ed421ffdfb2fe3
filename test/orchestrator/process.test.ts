/** The orchestrator as users run it: a real process, real HTTP, a SQLite file, signals. */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "../../src/orchestrator/_testkit.ts";
import { openDatabase } from "../../src/orchestrator/index.ts";
import { runOrchestrator, startOrchestrator } from "./_support.ts";

const ADMIN = "admin-token-for-process-tests";
let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function call(url: string, token: string, method: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

describe("stavily orchestrator (process)", () => {
  test("serves both APIs over HTTP, stops on SIGTERM releasing waiting polls, keeps its data", async () => {
    dir = mkdtempSync(join(tmpdir(), "stavily-orch-proc-"));
    await Bun.write(join(dir, "tokens.yaml"), "sensor-1: token-of-sensor-one\naction-1: token-of-action-one\n");
    const running = await startOrchestrator({ db: "orch.db", listen: "127.0.0.1:0", tokens: "tokens.yaml", adminToken: ADMIN, lease: "30s" }, dir);
    expect(running.line).toMatch(/^stavily orchestrator listening on http:\/\/127\.0\.0\.1:\d+ \(db .*orch\.db\)$/);
    expect(running.line).toContain(join(dir, "orch.db"));
    const agent = `${running.url}/agents/v1/action-1`;

    const poll = call(`${agent}/instructions?wait=30`, "token-of-action-one", "GET");
    const created = await call(`${running.url}/api/v1/instructions`, ADMIN, "POST", { agent_id: "action-1", plugin_id: "shell", instruction_type: "execute" });
    expect(created.status).toBe(201);
    const polled = await poll;
    expect(polled.body.instruction.id).toBe(created.body.id);
    const result = await call(`${agent}/instructions/${created.body.id}/result`, "token-of-action-one", "POST", { status: "completed", result: { ok: true } });
    expect(result.body).toEqual({ acknowledged: true, next_instruction: null });
    expect((await call(`${agent}/heartbeat`, "token-of-sensor-one", "POST", { timestamp: new Date().toISOString(), status: "online" })).status).toBe(403);

    // A poll still waiting at SIGTERM is answered at once, so stopping does not take a minute.
    const pending = call(`${agent}/instructions?wait=60`, "token-of-action-one", "GET");
    await eventually(async () => ((await (await fetch(`${running.url}/healthz`)).json()) as { waiting_polls: number }).waiting_polls === 1 || undefined);
    const startedStop = Date.now();
    const [stopped, last] = await Promise.all([running.stop(), pending]);
    expect(stopped.code).toBe(0);
    expect(Date.now() - startedStop).toBeLessThan(10_000);
    expect(stopped.stderr).toContain("stopping");
    expect(last).toEqual({ status: 200, body: { instruction: null, status: "no_instructions", next_poll_interval: 5 } });

    const db = openDatabase(join(dir, "orch.db"));
    const row = db.query<{ status: string; result: string }, [string]>("SELECT status, result FROM instructions WHERE id = ?").get(created.body.id);
    db.close();
    expect(row).toEqual({ status: "completed", result: JSON.stringify({ ok: true }) });
  }, 40_000);

  test("usage errors exit 2 before anything starts", async () => {
    dir = mkdtempSync(join(tmpdir(), "stavily-orch-proc-"));
    for (const [flags, message] of [
      [{ insecureDev: true, listen: "0.0.0.0:0" }, "--insecure-dev"],
      [{ listen: "nowhere" }, "--listen: expected host:port"],
      [{ lease: "soon" }, "--lease"],
      [{ maxDeliveries: 0 }, "--max-deliveries: expected a whole number of at least 1, e.g. 10"],
      [{ maxDeliveries: "many" }, "--max-deliveries: expected a whole number of at least 1, e.g. 10"],
      [{ tlsCert: "cert.pem" }, "--tls-cert and --tls-key go together"],
    ] as const) {
      const proc = runOrchestrator({ db: ":memory:", ...flags }, dir);
      const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
      expect({ code, stderr }).toMatchObject({ code: 2, stderr: expect.stringContaining(message) });
    }
  }, 20_000);

  test("prints a generated admin token when none is given, and accepts --insecure-dev on loopback", async () => {
    dir = mkdtempSync(join(tmpdir(), "stavily-orch-proc-"));
    const running = await startOrchestrator({ db: ":memory:", listen: "127.0.0.1:0", insecureDev: true }, dir);
    expect((await call(`${running.url}/agents/v1/any/instructions`, "x", "GET")).status).toBe(200);
    const { code, stderr } = await running.stop();
    expect(code).toBe(0);
    const token = /admin API token \(generated.*\): (\S+)/.exec(stderr)?.[1];
    expect(token).toStartWith("adm_");
  }, 20_000);
});
