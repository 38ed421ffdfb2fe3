/** Long polls, leases, cancellation and expiry: the time-dependent half of the agents/v1 contract. */
import { afterEach, describe, expect, test } from "bun:test";
import { createTestbed, eventually, heartbeatBody, newInstruction, type Testbed } from "../_testkit.ts";
import { createNotifier, type Notifier } from "../notifier.ts";
import { createOrchestrator } from "../orchestrator.ts";

let bed: Testbed;
afterEach(() => bed.close());

/** A notifier that reports each long poll starting to wait, so a test can act exactly then. */
function observedNotifier(onListen: (agentId: string) => void): Notifier {
  const inner = createNotifier();
  return { ...inner, listen: (agentId) => (onListen(agentId), inner.listen(agentId)) };
}

describe("long poll", () => {
  test("is answered as soon as an instruction for the agent is created", async () => {
    const order: string[] = [];
    let listening!: () => void;
    const waiting = new Promise<void>((resolve) => (listening = resolve));
    // The poll listens again after each wake-up; the first time is the one that matters.
    bed = createTestbed({ notifier: observedNotifier(() => order.includes("poll waiting") || (order.push("poll waiting"), listening())) });
    const started = Date.now();
    const polled = bed.agent("agent-1", "GET", "/instructions?wait=30").then((answer) => (order.push("poll answered"), answer));
    await waiting;
    const created = await bed.admin("POST", "/instructions", newInstruction("agent-1"));
    order.push("instruction created");
    const answer = await polled;
    expect(answer.body.instruction.id).toBe(created.body.id);
    expect(order).toEqual(["poll waiting", "instruction created", "poll answered"]);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test("an instruction for another agent does not answer it; the wait ends with null", async () => {
    let listening!: () => void;
    const waiting = new Promise<void>((resolve) => (listening = resolve));
    bed = createTestbed({ notifier: observedNotifier(() => listening()) });
    const polled = bed.agent("agent-1", "GET", "/instructions?wait=1");
    await waiting;
    await bed.admin("POST", "/instructions", newInstruction("agent-2"));
    const answer = await polled;
    expect(answer.body).toMatchObject({ instruction: null, status: "no_instructions" });
    expect(answer.body.next_poll_interval).toBeGreaterThan(0);
  });
});

describe("leases", () => {
  test("an instruction without updates within its lease is delivered again", async () => {
    bed = createTestbed({ leaseMs: 200 });
    const created = await bed.admin("POST", "/instructions", newInstruction());
    expect((await bed.agent("agent-1", "GET", "/instructions")).body.instruction.id).toBe(created.body.id);
    const again = await eventually(async () => (await bed.agent("agent-1", "GET", "/instructions")).body.instruction ?? undefined);
    expect(again.id).toBe(created.body.id);
    expect((await bed.admin("GET", `/instructions/${created.body.id}`)).body.delivery_count).toBe(2);
  });

  test("a long poll wakes when a lease lapses and gets the instruction back", async () => {
    bed = createTestbed({ leaseMs: 200 });
    const created = await bed.admin("POST", "/instructions", newInstruction());
    await bed.agent("agent-1", "GET", "/instructions");
    const answer = await bed.agent("agent-1", "GET", "/instructions?wait=30");
    expect(answer.body.instruction.id).toBe(created.body.id);
  });

  test("each update renews the lease", async () => {
    let clock = Date.parse("2026-01-01T00:00:00Z");
    bed = createTestbed({ leaseMs: 60_000, now: () => clock });
    const created = await bed.admin("POST", "/instructions", newInstruction());
    await bed.agent("agent-1", "GET", "/instructions");
    const lease = async () => (await bed.admin("GET", `/instructions/${created.body.id}`)).body.lease_expires_at;
    expect(await lease()).toBe("2026-01-01T00:01:00.000Z");
    clock += 50_000;
    await bed.agent("agent-1", "PUT", `/instructions/${created.body.id}`, { status: "executing" });
    expect(await lease()).toBe("2026-01-01T00:01:50.000Z");
    clock += 59_000;
    expect((await bed.admin("GET", `/instructions/${created.body.id}`)).body.status).toBe("executing");
  });
});

describe("undeliverable", () => {
  test("an instruction never answered fails after its last delivery's lease lapses, and is not delivered again", async () => {
    bed = createTestbed({ leaseMs: 150, maxDeliveries: 3 });
    const poison = await bed.admin("POST", "/instructions", newInstruction());
    const id = poison.body.id;
    for (let delivery = 1; delivery <= 3; delivery++) {
      const polled = await eventually(async () => (await bed.agent("agent-1", "GET", "/instructions")).body.instruction ?? undefined);
      expect({ delivery, id: polled.id }).toEqual({ delivery, id });
    }
    const failed = await eventually(async () => {
      const shown = (await bed.admin("GET", `/instructions/${id}`)).body;
      return shown.status === "delivered" ? undefined : shown;
    });
    expect(failed).toMatchObject({
      status: "failed",
      delivery_count: 3,
      lease_expires_at: null,
      error_message: "undeliverable: delivered 3 times without a result",
      error_details: { reason: "undeliverable", deliveries: 3 },
    });
    expect(failed.finished_at).toBeString();
    // Past another lease there is still nothing: no 4th delivery.
    await Bun.sleep(200);
    expect((await bed.agent("agent-1", "GET", "/instructions")).body.instruction).toBeNull();
    expect((await bed.admin("GET", `/instructions/${id}`)).body.delivery_count).toBe(3);

    // The agent reporting at last changes nothing: as for any finished instruction, acknowledged, kept as it was.
    const late = await bed.agent("agent-1", "POST", `/instructions/${id}/result`, { status: "completed", result: { late: true } });
    expect(late).toMatchObject({ status: 200, body: { acknowledged: true, next_instruction: null } });
    expect((await bed.agent("agent-1", "PUT", `/instructions/${id}`, { status: "executing" })).body.success).toBe(false);
    expect((await bed.admin("GET", `/instructions/${id}`)).body).toMatchObject({ status: "failed", result: null, error_details: { reason: "undeliverable", deliveries: 3 } });
  });

  test("redelivery below the cap, updates and results are unaffected", async () => {
    bed = createTestbed({ leaseMs: 150, maxDeliveries: 3 });
    const slow = await bed.admin("POST", "/instructions", newInstruction());
    const id = slow.body.id;
    // Delivered three times (two lapses), then kept by progress reports past several leases, then answered.
    for (let delivery = 1; delivery <= 3; delivery++) {
      expect((await eventually(async () => (await bed.agent("agent-1", "GET", "/instructions")).body.instruction ?? undefined)).id).toBe(id);
    }
    for (let update = 0; update < 5; update++) {
      expect((await bed.agent("agent-1", "PUT", `/instructions/${id}`, { status: "executing" })).body.success).toBe(true);
      await Bun.sleep(60);
      expect((await bed.agent("agent-1", "GET", "/instructions")).body.instruction).toBeNull();
    }
    await bed.agent("agent-1", "POST", `/instructions/${id}/result`, { status: "completed", result: { ok: true } });
    expect((await bed.admin("GET", `/instructions/${id}`)).body).toMatchObject({ status: "completed", delivery_count: 3, result: { ok: true }, error_details: null });

    const quick = await bed.admin("POST", "/instructions", newInstruction());
    expect((await bed.agent("agent-1", "GET", "/instructions")).body.instruction.id).toBe(quick.body.id);
    await bed.agent("agent-1", "POST", `/instructions/${quick.body.id}/result`, { status: "completed" });
    expect((await bed.admin("GET", `/instructions/${quick.body.id}`)).body).toMatchObject({ status: "completed", delivery_count: 1 });
  });

  test("a lapsed instruction an admin cancelled ends cancelled, not undeliverable; the cap must be at least 1", async () => {
    bed = createTestbed({ leaseMs: 150, maxDeliveries: 1 });
    const created = await bed.admin("POST", "/instructions", newInstruction());
    await bed.agent("agent-1", "GET", "/instructions");
    await bed.admin("POST", `/instructions/${created.body.id}/cancel`);
    const done = await eventually(async () => {
      const shown = (await bed.admin("GET", `/instructions/${created.body.id}`)).body;
      return shown.status === "delivered" ? undefined : shown;
    });
    expect(done).toMatchObject({ status: "cancelled", error_details: null });
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => createOrchestrator({ db: ":memory:", adminToken: "x", maxDeliveries: bad })).toThrow(`maxDeliveries must be a whole number of at least 1, got ${bad}`);
    }
  });
});

describe("cancellation", () => {
  test("a delivered instruction's cancel reaches the agent through heartbeat and update answers", async () => {
    bed = createTestbed();
    const created = await bed.admin("POST", "/instructions", newInstruction());
    const id = created.body.id;
    await bed.agent("agent-1", "GET", "/instructions");
    const cancelled = await bed.admin("POST", `/instructions/${id}/cancel`);
    expect(cancelled.body).toMatchObject({ status: "delivered", cancel_requested: true });
    expect((await bed.agent("agent-1", "POST", "/heartbeat", heartbeatBody())).body).toEqual({ cancel_instructions: [id] });
    expect((await bed.agent("agent-2", "POST", "/heartbeat", heartbeatBody())).body).toEqual({ cancel_instructions: [] });
    expect((await bed.agent("agent-1", "PUT", `/instructions/${id}`, { execution_log: ["stopping"] })).body.cancelled).toBe(true);
    await bed.agent("agent-1", "POST", `/instructions/${id}/result`, { status: "cancelled" });
    expect((await bed.agent("agent-1", "POST", "/heartbeat", heartbeatBody())).body).toEqual({ cancel_instructions: [] });
    expect((await bed.admin("GET", `/instructions/${id}`)).body.status).toBe("cancelled");
  });

  test("a pending instruction is cancelled at once and never delivered; a finished one is a 409", async () => {
    bed = createTestbed();
    const pending = await bed.admin("POST", "/instructions", newInstruction());
    expect((await bed.admin("POST", `/instructions/${pending.body.id}/cancel`)).body.status).toBe("cancelled");
    expect((await bed.agent("agent-1", "GET", "/instructions")).body.instruction).toBeNull();
    const done = await bed.admin("POST", "/instructions", newInstruction());
    await bed.agent("agent-1", "GET", "/instructions");
    await bed.agent("agent-1", "POST", `/instructions/${done.body.id}/result`, { status: "completed" });
    expect((await bed.admin("POST", `/instructions/${done.body.id}/cancel`)).status).toBe(409);
    expect((await bed.admin("POST", "/instructions/nope/cancel")).status).toBe(404);
  });
});

describe("expiry", () => {
  test("a pending instruction past expires_at is failed as expired, not delivered", async () => {
    bed = createTestbed();
    const stale = await bed.admin("POST", "/instructions", newInstruction("agent-1", { expires_at: new Date(Date.now() - 1000).toISOString() }));
    const fresh = await bed.admin("POST", "/instructions", newInstruction("agent-1", { expires_in: "1h" }));
    expect(Date.parse(fresh.body.expires_at)).toBeGreaterThan(Date.now() + 3_500_000);
    const polled = await bed.agent("agent-1", "GET", "/instructions");
    expect(polled.body.instruction.id).toBe(fresh.body.id);
    expect(polled.body.instruction.expires_at).toBe(fresh.body.expires_at);
    expect((await bed.admin("GET", `/instructions/${stale.body.id}`)).body).toMatchObject({ status: "failed", error_message: "expired" });
  });
});
