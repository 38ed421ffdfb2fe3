import { describe, expect, test } from "bun:test";
import { StavilyError } from "../errors.ts";
import { buildEntry, type EntryContext } from "./_entry.ts";
import { formatJson, formatText } from "./_format.ts";

const time = new Date("2025-01-02T03:04:05.006Z");
const context: EntryContext = { identity: { agent_id: "agt_1", agent_type: "action" }, component: "runner", withStack: false };

describe("formatJson", () => {
  test("fields never overwrite the fixed keys; odd values still serialise", () => {
    const fields = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    Object.assign(fields, { level: "spoofed", msg: "spoofed", big: 12n, when: time, skipped: undefined });
    const line = formatJson(buildEntry("info", time, "hello", fields, context));
    expect(line.endsWith("\n")).toBe(true);
    expect(line.split("\n")).toHaveLength(2);
    expect(JSON.parse(line)).toEqual({
      time: "2025-01-02T03:04:05.006Z",
      level: "info",
      msg: "hello",
      agent_id: "agt_1",
      agent_type: "action",
      component: "runner",
      field_level: "spoofed",
      field_msg: "spoofed",
      big: "12",
      when: "2025-01-02T03:04:05.006Z",
    });
  });

  test("a newline in a message stays inside its line", () => {
    const line = formatJson(buildEntry("warn", time, "two\nlines", undefined, context));
    expect(line.split("\n")).toHaveLength(2);
    expect(JSON.parse(line).msg).toBe("two\nlines");
  });

  test("a field whose toJSON throws costs the fields, not the line", () => {
    const hostile = { toJSON: () => { throw new Error("no"); } };
    expect(JSON.parse(formatJson(buildEntry("info", time, "kept", { hostile }, context)))).toMatchObject({
      msg: "kept",
      log_error: "fields not serialisable: Error: no",
    });
  });
});

describe("formatText", () => {
  test("time, padded level, component, message, then key=value with quoting only when needed", () => {
    const entry = buildEntry("info", time, "polled", { count: 3, state: "ok", reason: "rate limited", nested: { a: 1 } }, context);
    expect(formatText(entry, { color: false })).toBe(
      '2025-01-02T03:04:05.006Z INFO  [runner] polled count=3 state=ok reason="rate limited" nested={"a":1}\n',
    );
  });

  test("error details and, when debugging, stacks follow on indented lines", () => {
    const error = new StavilyError("config", "invalid configuration", { details: ["api.url: required"], cause: new Error("inner") });
    const plain = formatText(buildEntry("error", time, "start failed", { error }, context), { color: false });
    expect(plain).toBe(
      '2025-01-02T03:04:05.006Z ERROR [runner] start failed error="StavilyError: invalid configuration; caused by: inner"\n    api.url: required\n',
    );
    const debug = formatText(buildEntry("error", time, "start failed", { error }, { ...context, withStack: true }), { color: false });
    expect(debug).toContain("\n    StavilyError: invalid configuration\n    at ");
    expect(debug).toContain("\n    [cause] Error: inner\n");
  });

  test("colour only when asked", () => {
    const entry = buildEntry("error", time, "boom", undefined, context);
    expect(formatText(entry, { color: false })).not.toContain("\u001B[");
    expect(formatText(entry, { color: true })).toContain("\u001B[31mERROR\u001B[0m");
  });
});
