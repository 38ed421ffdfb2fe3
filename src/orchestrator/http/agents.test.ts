import { afterEach, describe, expect, test } from "bun:test";
import * as v from "valibot";
import {
  EventsResponseSchema,
  HeartbeatResponseSchema,
  PollResponseSchema,
  RegisterResponseSchema,
  ResultResponseSchema,
  UpdateResponseSchema,
} from "../../core/protocol/index.ts";
import { createTestbed, heartbeatBody, newInstruction, type Testbed } from "../_testkit.ts";

let bed: Testbed;
afterEach(() => bed.close());

/** Creates an instruction through the admin API and has agent-1 take it. */
async function delivered(extra: Record<string, unknown> = {}) {
  const created = await bed.admin("POST", "/instructions", newInstruction("agent-1", extra));
  const polled = await bed.agent("agent-1", "GET", "/instructions");
  expect(polled.body.instruction.id).toBe(created.body.id);
  return created.body.id as string;
}

describe("POST /agents/v1/{id}/heartbeat", () => {
  test("stores the heartbeat and answers the shared response schema", async () => {
    bed = createTestbed();
    const answer = await bed.agent("agent-1", "POST", "/heartbeat", heartbeatBody({ uptime_seconds: 12 }));
    expect(answer.status).toBe(200);
    expect(v.parse(HeartbeatResponseSchema, answer.body)).toEqual({ cancel_instructions: [] });
    const agents = await bed.admin("GET", "/agents");
    expect(agents.body.agents[0]).toMatchObject({ id: "agent-1", status: "online", reported_status: "online" });
  });

  test("400 naming the wrong fields", async () => {
    bed = createTestbed();
    const answer = await bed.agent("agent-1", "POST", "/heartbeat", { timestamp: "yesterday", status: "sleepy" });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe("invalid_body");
    expect(answer.body.issues.map((issue: { field: string }) => issue.field).sort()).toEqual(["status", "timestamp"]);
    expect((await bed.agent("agent-1", "POST", "/heartbeat", "{not json")).body.error).toBe("invalid_json");
  });

  test("413 on a body over the limit", async () => {
    bed = createTestbed({ maxBodyBytes: 1000 });
    const answer = await bed.agent("agent-1", "POST", "/heartbeat", heartbeatBody({ version: "x".repeat(2000) }));
    expect(answer.status).toBe(413);
    expect(answer.body.error).toBe("too_large");
  });
});

describe("POST /agents/v1/{id}/register", () => {
  test("stores type, version, host and plugins", async () => {
    bed = createTestbed();
    const body = { agent_type: "action", name: "a1", version: "0.1.0", hostname: "h1", os: "linux", arch: "x64", plugins: [{ id: "shell", version: "1.0.0", type: "action" }] };
    const answer = await bed.agent("agent-1", "POST", "/register", body);
    expect(v.parse(RegisterResponseSchema, answer.body).registered).toBe(true);
    const agent = (await bed.admin("GET", "/agents")).body.agents[0];
    expect(agent.registration).toMatchObject({ agent_type: "action", hostname: "h1", os: "linux", arch: "x64" });
    expect(agent).toMatchObject({ agent_type: "action", name: "a1", version: "0.1.0", hostname: "h1" });
    expect(agent.plugins).toEqual(body.plugins);
  });

  test("400 on a missing field", async () => {
    bed = createTestbed();
    const answer = await bed.agent("agent-1", "POST", "/register", { agent_type: "robot" });
    expect(answer.status).toBe(400);
    expect(answer.body.issues.map((issue: { field: string }) => issue.field)).toContain("agent_type");
  });
});

describe("GET /agents/v1/{id}/instructions", () => {
  test("answers null when there is nothing, then delivers by priority with a lease", async () => {
    bed = createTestbed();
    const empty = v.parse(PollResponseSchema, (await bed.agent("agent-1", "GET", "/instructions")).body);
    expect(empty).toMatchObject({ instruction: null, status: "no_instructions" });
    const low = await bed.admin("POST", "/instructions", newInstruction("agent-1", { priority: "low" }));
    const urgent = await bed.admin("POST", "/instructions", newInstruction("agent-1", { priority: "urgent" }));
    await bed.admin("POST", "/instructions", newInstruction("agent-2"));
    const first = v.parse(PollResponseSchema, (await bed.agent("agent-1", "GET", "/instructions")).body);
    expect(first.instruction?.id).toBe(urgent.body.id);
    expect((await bed.agent("agent-1", "GET", "/instructions")).body.instruction.id).toBe(low.body.id);
    expect((await bed.agent("agent-1", "GET", "/instructions")).body.instruction).toBeNull();
    const shown = await bed.admin("GET", `/instructions/${urgent.body.id}`);
    expect(shown.body).toMatchObject({ status: "delivered", delivery_count: 1 });
    expect(shown.body.lease_expires_at).toBeString();
  });

  test("400 on a bad wait", async () => {
    bed = createTestbed();
    const answer = await bed.agent("agent-1", "GET", "/instructions?wait=soon");
    expect(answer.status).toBe(400);
    expect(answer.body.issues[0].field).toBe("wait");
  });
});

describe("PUT /agents/v1/{id}/instructions/{iid}", () => {
  test("records executing, appends the log and names the updated fields", async () => {
    bed = createTestbed();
    const id = await delivered();
    const answer = await bed.agent("agent-1", "PUT", `/instructions/${id}`, { status: "executing", execution_log: ["started"] });
    expect(v.parse(UpdateResponseSchema, answer.body)).toEqual({ success: true, instruction_id: id, updated_fields: ["status", "execution_log"], cancelled: false });
    await bed.agent("agent-1", "PUT", `/instructions/${id}`, { execution_log: ["half way"] });
    const shown = (await bed.admin("GET", `/instructions/${id}`)).body;
    expect(shown).toMatchObject({ status: "executing", execution_log: ["started", "half way"] });
    expect(shown.started_at).toBeString();
  });

  test("400 on a bad body, 404 for an unknown instruction or another agent's", async () => {
    bed = createTestbed();
    const id = await delivered();
    expect((await bed.agent("agent-1", "PUT", `/instructions/${id}`, { status: "pending" })).status).toBe(400);
    expect((await bed.agent("agent-1", "PUT", "/instructions/nope", { status: "executing" })).status).toBe(404);
    expect((await bed.agent("agent-2", "PUT", `/instructions/${id}`, { status: "executing" })).status).toBe(404);
  });
});

describe("POST /agents/v1/{id}/instructions/{iid}/result", () => {
  test("stores the result and chains the next pending instruction, delivered at once", async () => {
    bed = createTestbed();
    const id = await delivered();
    const next = await bed.admin("POST", "/instructions", newInstruction("agent-1"));
    const answer = await bed.agent("agent-1", "POST", `/instructions/${id}/result`, { status: "completed", result: { exit_code: 0 }, execution_log: ["done"] });
    const parsed = v.parse(ResultResponseSchema, answer.body);
    expect(parsed.acknowledged).toBe(true);
    expect(parsed.next_instruction?.id).toBe(next.body.id);
    expect((await bed.admin("GET", `/instructions/${next.body.id}`)).body.status).toBe("delivered");
    const shown = (await bed.admin("GET", `/instructions/${id}`)).body;
    expect(shown).toMatchObject({ status: "completed", result: { exit_code: 0 }, execution_log: ["done"] });
    expect(shown.finished_at).toBeString();
  });

  test("a repeated result is acknowledged without changing the stored one", async () => {
    bed = createTestbed();
    const id = await delivered();
    await bed.agent("agent-1", "POST", `/instructions/${id}/result`, { status: "completed", result: { n: 1 } });
    const again = await bed.agent("agent-1", "POST", `/instructions/${id}/result`, { status: "failed", error_message: "late" });
    expect(again.body).toEqual({ acknowledged: true, next_instruction: null });
    expect((await bed.admin("GET", `/instructions/${id}`)).body).toMatchObject({ status: "completed", result: { n: 1 }, error_message: null });
  });

  test("400 on a bad status, 404 for an unknown instruction", async () => {
    bed = createTestbed();
    const id = await delivered();
    const bad = await bed.agent("agent-1", "POST", `/instructions/${id}/result`, { status: "done" });
    expect(bad.status).toBe(400);
    expect(bad.body.issues[0].field).toBe("status");
    expect((await bed.agent("agent-1", "POST", "/instructions/nope/result", { status: "completed" })).status).toBe(404);
  });
});

describe("POST /agents/v1/{id}/events", () => {
  const event = (id: string, extra: Record<string, unknown> = {}) => ({ id, type: "file.changed", source: "fs", timestamp: new Date().toISOString(), data: { path: "/etc/hosts" }, ...extra });

  test("a retried batch with the same Idempotency-Key is stored once; a known event id is not stored twice", async () => {
    bed = createTestbed();
    const batch = { events: [event("e1"), event("e2")] };
    const first = await bed.agent("agent-1", "POST", "/events", batch, { "idempotency-key": "batch-1" });
    expect(v.parse(EventsResponseSchema, first.body)).toEqual({ accepted: 2 });
    const retry = await bed.agent("agent-1", "POST", "/events", batch, { "idempotency-key": "batch-1" });
    expect(retry.body).toEqual({ accepted: 2 });
    const overlap = await bed.agent("agent-1", "POST", "/events", { events: [event("e2"), event("e3")] }, { "idempotency-key": "batch-2" });
    expect(overlap.body).toEqual({ accepted: 2 });
    const stored = (await bed.admin("GET", "/events?agent_id=agent-1")).body.events;
    expect(stored.map((e: { id: string }) => e.id).sort()).toEqual(["e1", "e2", "e3"]);
    expect(stored[0].agent_id).toBe("agent-1");
  });

  test("400 naming the bad event field", async () => {
    bed = createTestbed();
    const answer = await bed.agent("agent-1", "POST", "/events", { events: [event("e1", { timestamp: "now" })] });
    expect(answer.status).toBe(400);
    expect(answer.body.issues[0].field).toBe("events.0.timestamp");
  });
});
