import { afterEach, describe, expect, test } from "bun:test";
import { createTestbed, type Testbed } from "../_testkit.ts";
import type { StoredEvent } from "../store/events.ts";
import { matches, render, type Rule } from "./match.ts";

const event: StoredEvent = {
  id: "e1",
  type: "disk.full",
  source: "df",
  trigger_id: "",
  agent_id: "sensor-1",
  timestamp: "2026-01-01T00:00:00.000Z",
  received_at: "2026-01-01T00:00:01.000Z",
  severity: "high",
  data: { mount: "/var", used: 97, nested: { a: 1 } },
  metadata: {},
  tags: [],
};

describe("templates", () => {
  test("replace event fields inside strings, keep a lone template's type, and recurse", () => {
    expect(render("clean {{event.data.mount}} ({{ event.type }} from {{event.agent_id}})", event)).toBe("clean /var (disk.full from sensor-1)");
    expect(render("{{event.data.used}}", event)).toBe(97);
    expect(render("x={{event.data.nested}}", event)).toBe('x={"a":1}');
    expect(render({ list: ["{{event.data.mount}}", 1, true], missing: "[{{event.data.nope}}]" }, event)).toEqual({ list: ["/var", 1, true], missing: "[]" });
  });
});

describe("matching", () => {
  const rule = (match: Rule["match"]): Rule => ({ id: "r", name: "", created_at: "", match, action: {} as Rule["action"] });
  test("by type, then optional source, severity, agent and data equality", () => {
    expect(matches(rule({ type: "disk.full" }), event)).toBe(true);
    expect(matches(rule({ type: "cpu.hot" }), event)).toBe(false);
    expect(matches(rule({ type: "disk.full", source: "df", severity: "high", agent_id: "sensor-1", data: { mount: "/var", used: 97 } }), event)).toBe(true);
    expect(matches(rule({ type: "disk.full", severity: "low" }), event)).toBe(false);
    expect(matches(rule({ type: "disk.full", data: { mount: "/" } }), event)).toBe(false);
    expect(matches(rule({ type: "disk.full", agent_id: "sensor-2" }), event)).toBe(false);
  });
});

describe("rules through the API", () => {
  let bed: Testbed;
  afterEach(() => bed.close());

  test("a matching event creates one instruction for the target agent, once per event", async () => {
    bed = createTestbed();
    const created = await bed.admin("POST", "/rules", {
      name: "clean disks",
      match: { type: "disk.full", data: { mount: "/var" } },
      action: {
        agent_id: "agent-2",
        plugin_id: "shell",
        instruction_type: "execute",
        plugin_configuration: { note: "from {{event.agent_id}}" },
        input_data: { command: "clean {{event.data.mount}}", used: "{{event.data.used}}", kind: "{{event.type}}" },
      },
    });
    expect(created.status).toBe(201);
    const batch = {
      events: [
        { id: "e1", type: "disk.full", source: "df", timestamp: new Date().toISOString(), data: { mount: "/var", used: 97 } },
        { id: "e2", type: "disk.full", source: "df", timestamp: new Date().toISOString(), data: { mount: "/home", used: 99 } },
      ],
    };
    await bed.agent("agent-1", "POST", "/events", batch, { "idempotency-key": "b1" });
    await bed.agent("agent-1", "POST", "/events", batch, { "idempotency-key": "b1" });
    await bed.agent("agent-1", "POST", "/events", batch, { "idempotency-key": "b2" });
    const made = (await bed.admin("GET", "/instructions?agent_id=agent-2")).body.instructions;
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({
      plugin_configuration: { note: "from agent-1" },
      input_data: { command: "clean /var", used: 97, kind: "disk.full" },
      rule_id: created.body.id,
      event_id: "e1",
      correlation_id: "e1",
    });
    expect((await bed.agent("agent-2", "GET", "/instructions")).body.instruction.id).toBe(made[0].id);
  });

  test("create, list, get and delete; 400 on a bad rule", async () => {
    bed = createTestbed();
    const bad = await bed.admin("POST", "/rules", { match: {}, action: { agent_id: "a" } });
    expect(bad.status).toBe(400);
    expect(bad.body.issues.map((issue: { field: string }) => issue.field)).toEqual(expect.arrayContaining(["match.type", "action.plugin_id"]));
    const rule = (await bed.admin("POST", "/rules", { match: { type: "x" }, action: { agent_id: "a", plugin_id: "p", instruction_type: "execute" } })).body;
    expect((await bed.admin("GET", "/rules")).body.rules.map((r: { id: string }) => r.id)).toEqual([rule.id]);
    expect((await bed.admin("GET", `/rules/${rule.id}`)).body.match).toEqual({ type: "x" });
    expect((await bed.admin("DELETE", `/rules/${rule.id}`)).status).toBe(204);
    expect((await bed.admin("DELETE", `/rules/${rule.id}`)).status).toBe(404);
    expect((await bed.admin("GET", `/rules/${rule.id}`)).status).toBe(404);
  });
});
