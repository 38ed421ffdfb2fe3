import { describe, expect, test } from "bun:test";
import { acceptEvent, acceptEvents } from "./_validate.ts";

describe("events from a worker", () => {
  const id = "0195f3c1-7b2a-8d4e-9f10-a1b2c3d4e5f6";

  test("a detect event keeps the runtime's id, which must be a UUID", () => {
    expect(acceptEvents([{ type: "x", id }], 10)).toEqual([{ type: "x", id }]);
    expect(acceptEvents({ type: "x" }, 10)).toEqual([{ type: "x" }]);
    expect(() => acceptEvents([{ type: "x" }, { type: "y", id: "cpu-high-1" }], 10)).toThrow(/^invalid event 1 at id: /);
    expect(() => acceptEvents([{ type: "x", id: 42 }], 10)).toThrow(/^invalid event 0 at id: /);
  });

  test("a pushed (watch) event carries no id: the agent gives it one", () => {
    expect(acceptEvent({ type: "x" })).toEqual({ type: "x" });
    expect(() => acceptEvent({ type: "x", id })).toThrow(/^invalid event/);
  });

  test("too many events in one run are refused whole", () => {
    expect(() => acceptEvents([{ type: "x" }, { type: "x" }], 1)).toThrow("invalid events: 2 in one run, at most 1");
  });
});
