/** Test support: an orchestrator on a real SQLite file in a temp dir, and request helpers for both APIs. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createOrchestrator, type OrchestratorOptions } from "./orchestrator.ts";

export const ADMIN_TOKEN = "admin-secret-for-tests";
export const TOKENS = { "agent-1": "token-of-agent-one", "agent-2": "token-of-agent-two" } as const;

export function heartbeatBody(extra: Record<string, unknown> = {}) {
  return { timestamp: new Date().toISOString(), status: "online", ...extra };
}

export function newInstruction(agentId = "agent-1", extra: Record<string, unknown> = {}) {
  return { agent_id: agentId, plugin_id: "shell", instruction_type: "execute", input_data: { command: "true" }, ...extra };
}

export function createTestbed(options: Partial<OrchestratorOptions> = {}, dir = mkdtempSync(join(tmpdir(), "stavily-orch-"))) {
  const db = join(dir, "orchestrator.db");
  const orchestrator = createOrchestrator({ db, adminToken: ADMIN_TOKEN, tokens: { ...TOKENS }, reportError: (error) => { throw error; }, ...options });
  const { app } = orchestrator;

  async function send(token: string | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const init: RequestInit = { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)["content-type"] = "application/json";
    }
    const response = await app.request(path, init);
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as any, headers: response.headers };
  }

  return {
    dir,
    db,
    orchestrator,
    app,
    service: orchestrator.service,
    send,
    admin: (method: string, path: string, body?: unknown, headers?: Record<string, string>) => send(ADMIN_TOKEN, method, `/api/v1${path}`, body, headers),
    agent: (agentId: keyof typeof TOKENS, method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
      send(TOKENS[agentId], method, `/agents/v1/${agentId}${path}`, body, headers),
    /** Closes the database; `keepFiles` leaves them for a restart test. */
    close(keepFiles = false) {
      orchestrator.close();
      if (!keepFiles) rmSync(dir, { recursive: true, force: true });
    },
  };
}
export type Testbed = ReturnType<typeof createTestbed>;

/** Polls a condition until it holds or the deadline passes: for waiting on time-based state, never a fixed sleep. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, deadlineMs = 5000, stepMs = 20): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`condition not met within ${deadlineMs} ms`);
    await Bun.sleep(stepMs);
  }
}
