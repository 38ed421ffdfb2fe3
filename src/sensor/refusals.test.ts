import { describe, expect, test } from "bun:test";
import { createRefusals } from "./refusals.ts";

function recorder() {
  const lines: Array<[string, string, Record<string, unknown>]> = [];
  return {
    lines,
    logger: {
      error: (message: string, fields: Record<string, unknown>) => void lines.push(["error", message, fields]),
      info: (message: string, fields: Record<string, unknown>) => void lines.push(["info", message, fields]),
    } as never,
  };
}

const FULL = new Error("event spool /x/events.db: append failed: database or disk is full");

describe("events the spool refused", () => {
  test("are counted, logged at once then once per interval, and the lines add up to the count", () => {
    const { lines, logger } = recorder();
    const refusals = createRefusals(logger, 60_000);
    refusals.refused("burst", 20, FULL, 1_000);
    refusals.refused("burst", 20, FULL, 2_000);
    refusals.refused("burst", 20, FULL, 62_000);
    refusals.refused("burst", 5, FULL, 63_000);
    refusals.accepted();
    refusals.accepted();
    expect(refusals.total()).toBe(65);
    expect(lines).toEqual([
      ["error", "events could not be spooled", { trigger: "burst", count: 20, error: FULL.message }],
      ["error", "events could not be spooled", { trigger: "burst", count: 40, error: FULL.message }],
      ["info", "events are spooled again", { refused: 5, refused_total: 65 }],
    ]);
  });

  test("make a reason for /ready, naming the file and the cause, until an append succeeds", () => {
    const refusals = createRefusals(recorder().logger, 60_000);
    expect(refusals.problems()).toEqual([]);
    refusals.refused("burst", 1, FULL);
    expect(refusals.problems()).toEqual([`events cannot be spooled: ${FULL.message}`]);
    refusals.accepted();
    expect(refusals.problems()).toEqual([]);
  });
});
