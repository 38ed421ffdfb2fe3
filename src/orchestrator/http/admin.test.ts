import { afterEach, describe, expect, test } from "bun:test";
import { createTestbed, heartbeatBody, newInstruction, TOKENS, type Testbed } from "../_testkit.ts";
import { liveness } from "./admin-agents.ts";

let bed: Testbed;
afterEach(() => bed.close());

describe("instructions", () => {
  test("POST creates (201) and honours Idempotency-Key (200, same instruction)", async () => {
    bed = createTestbed();
    const body = newInstruction("agent-1", { correlation_id: "c-1", timeout_seconds: 30, max_retries: 2, priority: "high", plugin_configuration: { shell: "sh" } });
    const first = await bed.admin("POST", "/instructions", body, { "idempotency-key": "k1" });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ agent_id: "agent-1", status: "pending", correlation_id: "c-1", timeout_seconds: 30, max_retries: 2, priority: "high", execution_log: [] });
    const again = await bed.admin("POST", "/instructions", body, { "idempotency-key": "k1" });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect((await bed.admin("GET", "/instructions")).body.instructions).toHaveLength(1);
  });

  test("POST 400 names the wrong fields", async () => {
    bed = createTestbed();
    const answer = await bed.admin("POST", "/instructions", { agent_id: "", plugin_id: "x", instruction_type: "explode", expires_in: "soon" });
    expect(answer.status).toBe(400);
    expect(answer.body.issues.map((issue: { field: string }) => issue.field).sort()).toEqual(["agent_id", "expires_in", "instruction_type"]);
  });

  test("GET one, GET filtered list, 404 and 400", async () => {
    bed = createTestbed();
    const a = await bed.admin("POST", "/instructions", newInstruction("agent-1"));
    await bed.admin("POST", "/instructions", newInstruction("agent-2"));
    await bed.agent("agent-1", "GET", "/instructions");
    expect((await bed.admin("GET", `/instructions/${a.body.id}`)).body).toMatchObject({ id: a.body.id, status: "delivered" });
    const delivered = await bed.admin("GET", "/instructions?status=delivered");
    expect(delivered.body.instructions.map((i: { id: string }) => i.id)).toEqual([a.body.id]);
    const ofAgent2 = await bed.admin("GET", "/instructions?agent_id=agent-2");
    expect(ofAgent2.body.instructions).toHaveLength(1);
    expect((await bed.admin("GET", "/instructions/nope")).status).toBe(404);
    expect((await bed.admin("GET", "/instructions?status=sleeping")).status).toBe(400);
  });
});

describe("agents", () => {
  test("liveness comes from the age of the last heartbeat", () => {
    expect(liveness(null, null, 1_000_000, 30)).toBe("offline");
    expect(liveness(1_000_000, "online", 1_000_000 + 90_000, 30)).toBe("online");
    expect(liveness(1_000_000, "degraded", 1_000_000 + 91_000, 30)).toBe("stale");
    expect(liveness(1_000_000, "online", 1_000_000 + 301_000, 30)).toBe("offline");
    expect(liveness(1_000_000, "offline", 1_000_000, 30)).toBe("offline");
  });

  test("GET /agents shows last heartbeat and computed status", async () => {
    let clock = Date.parse("2026-01-01T00:00:00Z");
    bed = createTestbed({ now: () => clock });
    await bed.agent("agent-1", "POST", "/heartbeat", heartbeatBody({ status: "degraded" }));
    const show = async () => (await bed.admin("GET", "/agents")).body.agents[0];
    expect(await show()).toMatchObject({ id: "agent-1", status: "online", reported_status: "degraded", last_heartbeat_at: "2026-01-01T00:00:00.000Z" });
    clock += 120_000;
    expect((await show()).status).toBe("stale");
    clock += 600_000;
    expect((await show()).status).toBe("offline");
  });

  test("POST /agents/{id}/token creates a token shown once; rotating revokes the old one", async () => {
    bed = createTestbed();
    const created = await bed.admin("POST", "/agents/agent-9/token");
    expect(created.status).toBe(201);
    const token = created.body.token as string;
    expect((await bed.send(token, "GET", "/agents/v1/agent-9/instructions")).status).toBe(200);
    const rotated = await bed.admin("POST", "/agents/agent-9/token");
    expect(rotated.body.token).not.toBe(token);
    expect((await bed.send(token, "GET", "/agents/v1/agent-9/instructions")).status).toBe(401);
    expect((await bed.send(rotated.body.token, "GET", "/agents/v1/agent-9/instructions")).status).toBe(200);
    expect((await bed.send(TOKENS["agent-1"], "GET", "/agents/v1/agent-9/instructions")).status).toBe(403);
  });
});

describe("events", () => {
  test("GET /events filters by agent, type, severity and since, newest first, with a limit", async () => {
    bed = createTestbed();
    const at = (minute: number) => `2026-01-01T00:0${minute}:00.000Z`;
    await bed.agent("agent-1", "POST", "/events", {
      events: [
        { id: "a", type: "disk.full", source: "df", timestamp: at(1), severity: "high" },
        { id: "b", type: "disk.full", source: "df", timestamp: at(2), severity: "low" },
        { id: "c", type: "cpu.hot", source: "top", timestamp: at(3) },
      ],
    });
    await bed.agent("agent-2", "POST", "/events", { events: [{ id: "d", type: "disk.full", source: "df", timestamp: at(4) }] });
    const ids = async (query: string) => (await bed.admin("GET", `/events${query}`)).body.events.map((e: { id: string }) => e.id);
    expect(await ids("")).toEqual(["d", "c", "b", "a"]);
    expect(await ids("?agent_id=agent-1&type=disk.full")).toEqual(["b", "a"]);
    expect(await ids("?severity=high")).toEqual(["a"]);
    expect(await ids(`?since=${at(3)}`)).toEqual(["d", "c"]);
    expect(await ids("?limit=1")).toEqual(["d"]);
    expect((await bed.admin("GET", "/events?since=tuesday")).status).toBe(400);
    expect((await bed.admin("GET", "/events?severity=meh")).status).toBe(400);
  });
});
