import { afterEach, describe, expect, test } from "bun:test";
import { json, makeClient, makeConfig, startServer, tempDirs, type TestServer } from "../core/api/_testkit.ts";
import type { RuntimeContext } from "../core/agent/index.ts";
import { agentHomePaths } from "../core/home/index.ts";
import type { Instruction } from "../core/protocol/index.ts";
import { handleInstruction } from "./instruction.ts";

const dirs = tempDirs();
let server: TestServer | undefined;
afterEach(() => {
  server?.stop();
  dirs.cleanup();
});

function instruction(extra: Partial<Instruction> = {}): Instruction {
  return {
    id: "i-1",
    plugin_id: "restart-service",
    instruction_type: "execute",
    plugin_configuration: {},
    input_data: {},
    timeout_seconds: 0,
    max_retries: 0,
    retry_count: 0,
    priority: "normal",
    ...extra,
  };
}

function context(url: string, abort = new AbortController()): RuntimeContext {
  const base = dirs.make();
  const config = makeConfig(base, url, ["api.retry_attempts=0"]);
  const { client, logger } = makeClient(config);
  return { config: () => config, api: client, logger, home: agentHomePaths(base, "agent-1"), stop: new AbortController().signal, abort: abort.signal };
}

const resultBodies = (server: TestServer) => server.hits.filter((hit) => hit.path.endsWith("/result")).map((hit) => JSON.parse(hit.body));

describe("handling an instruction before plugins exist", () => {
  test("a missing plugin is reported failed, saying so", async () => {
    server = startServer(() => json({ acknowledged: true, next_instruction: null }));
    expect(await handleInstruction(instruction(), context(server.url), () => undefined)).toBeUndefined();
    expect(server.hits[0]!.path).toBe("/agents/v1/agent-1/instructions/i-1/result");
    expect(resultBodies(server)).toEqual([
      {
        status: "failed",
        error_message: 'plugin "restart-service" is not installed on this agent',
        error_details: { reason: "plugin_not_installed", plugin_id: "restart-service" },
      },
    ]);
  });

  test("an expired instruction is never started and reported failed with reason expired", async () => {
    server = startServer(() => json({ acknowledged: true, next_instruction: null }));
    const expiresAt = new Date(Date.now() - 60_000).toISOString();
    await handleInstruction(instruction({ expires_at: expiresAt }), context(server.url), () => undefined);
    expect(resultBodies(server)[0].error_details).toEqual({ reason: "expired", expires_at: expiresAt });
  });

  test("the result is sent again until acknowledged, then the chained instruction is returned", async () => {
    server = startServer((_request, _hit, index) =>
      index < 2 ? new Response("busy", { status: 503 }) : json({ acknowledged: true, next_instruction: instruction({ id: "i-2" }) }),
    );
    const next = await handleInstruction(instruction(), context(server.url), () => undefined);
    expect(next?.id).toBe("i-2");
    expect(server.hits).toHaveLength(3);
    // The same key each time, so the orchestrator stores the result once.
    expect(new Set(server.hits.map((hit) => hit.headers.get("idempotency-key"))).size).toBe(1);
  });

  test("a forced stop ends the retries", async () => {
    server = startServer(() => new Response("down", { status: 503 }));
    const abort = new AbortController();
    const pending = handleInstruction(instruction(), context(server.url, abort), () => undefined);
    await server.waitForHits(1);
    abort.abort();
    expect(await pending).toBeUndefined();
  });
});
