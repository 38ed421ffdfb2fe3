import { describe, expect, test } from "bun:test";
import { ShapeError, toActionResult, toEvents, toHealth } from "./_wire.ts";

describe("wire shapes", () => {
  test("a TriggerEvent as cpu_monitor.py builds it", () => {
    const event = {
      id: "cpu-high-1",
      type: "cpu.high",
      source: "cpu-monitor",
      timestamp: "2026-01-01T00:00:00",
      data: { cpu_usage: 93.5 },
      metadata: { hostname: "h" },
      tags: ["cpu"],
      severity: "high",
    };
    expect(toEvents(event)).toEqual([
      {
        type: "cpu.high",
        severity: "high",
        data: { cpu_usage: 93.5 },
        metadata: { hostname: "h", event_id: "cpu-high-1", source: "cpu-monitor", timestamp: "2026-01-01T00:00:00" },
        tags: ["cpu"],
      },
    ]);
    expect(toEvents(null)).toEqual([]);
    expect(() => toEvents({ type: "x", severity: "urgent" })).toThrow(ShapeError);
    expect(() => toEvents({ data: {} })).toThrow("detect_triggers data: type");
  });

  test("from the agent's plugin host, `id` is the worker runtime's event id and must be a UUID", () => {
    const id = "0b7e6c1e-5f0a-8d2b-9c3e-1a2b3c4d5e6f";
    expect(toEvents([{ type: "x", id, data: {} }], true)).toEqual([{ type: "x", id, data: {}, metadata: {} }]);
    expect(toEvents([{ type: "x" }], true)).toEqual([{ type: "x", data: {}, metadata: {} }]);
    expect(() => toEvents([{ type: "x", id: "cpu-high-1" }], true)).toThrow("detect_triggers data: id: not a UUID");
  });

  test("an ActionResult as service_restart.py builds it", () => {
    const failed = { id: "a1", status: "failed", error: "Service x not found (simulated)", started_at: "t", duration: 1.2, metadata: {} };
    expect(toActionResult(failed, "a1")).toEqual({ status: "failed", error: { message: "Service x not found (simulated)", code: "plugin_error" } });
    expect(toActionResult({ id: "a1", status: "completed", data: { ok: true } }, "a1")).toEqual({ status: "completed", data: { ok: true } });
    expect(toActionResult({ status: "timeout" }, "a1").error).toEqual({ message: "action timeout", code: "timeout" });
    expect(() => toActionResult({ id: "other", status: "completed" }, "a1")).toThrow("another request");
    expect(() => toActionResult({ id: "a1", status: "running" }, "a1")).toThrow(ShapeError);
  });

  test("health, with unknown read as degraded", () => {
    expect(toHealth({ status: "healthy", message: "ok", uptime: 3 })).toEqual({ status: "healthy", message: "ok" });
    expect(toHealth({ status: "unknown" })).toEqual({ status: "degraded" });
    expect(() => toHealth("running")).toThrow(ShapeError);
  });
});
