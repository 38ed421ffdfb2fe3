import { describe, expect, test } from "bun:test";
import type { PluginError } from "../errors.ts";
import type { HostMessage } from "./_protocol.ts";
import { createFloodGate } from "./_flood.ts";
import { createRpc } from "./rpc.ts";

function harness() {
  const sent: HostMessage[] = [];
  const rpc = createRpc("p", (message) => void sent.push(message));
  return { rpc, sent };
}

const codeOf = (promise: Promise<unknown>) => promise.then(() => "resolved", (e: PluginError) => e.code);

describe("rpc", () => {
  test("a reply settles its call; a late reply to a timed-out call is ignored", async () => {
    const { rpc, sent } = harness();
    const ok = rpc.call({ method: "health", args: [], deadline: Date.now() + 5_000 });
    expect(sent[0]).toMatchObject({ t: "call", id: 1, method: "health" });
    rpc.settle(1, { value: { status: "healthy" } });
    expect(await ok).toEqual({ status: "healthy" });
    const late = rpc.call({ method: "detect", args: [], deadline: Date.now() + 20 });
    expect(await codeOf(late)).toBe("timeout");
    expect(sent.at(-1)).toEqual({ t: "abort", id: 2, reason: "deadline" });
    rpc.settle(2, { value: [] });
    expect(rpc.pending).toBe(0);
  });

  test("accept refuses a value with invalid_output; an error reply keeps its code", async () => {
    const { rpc } = harness();
    const bad = rpc.call({ method: "detect", args: [], deadline: Date.now() + 5_000, accept: () => { throw new Error("nope"); } });
    rpc.settle(1, { value: 1 });
    expect(await codeOf(bad)).toBe("invalid_output");
    const failed = rpc.call({ method: "send", args: [], deadline: Date.now() + 5_000 });
    rpc.settle(2, { error: { message: "x", code: "permission_denied" } });
    expect(await codeOf(failed)).toBe("permission_denied");
  });

  test("closeAll rejects what is pending and everything after", async () => {
    const { rpc } = harness();
    const pending = rpc.call({ method: "execute", args: [], deadline: Date.now() + 5_000 });
    rpc.closeAll({ message: "gone", code: "crashed" });
    expect(await codeOf(pending)).toBe("crashed");
    expect(await codeOf(rpc.call({ method: "health", args: [], deadline: Date.now() + 5_000 }))).toBe("crashed");
  });

  test("an already aborted signal rejects at once and tells the worker", async () => {
    const { rpc, sent } = harness();
    expect(await codeOf(rpc.call({ method: "health", args: [], deadline: Date.now() + 5_000, signal: AbortSignal.abort() }))).toBe("aborted");
    expect(sent).toEqual([{ t: "abort", id: 1, reason: "aborted" }]);
  });
});

describe("flood gate", () => {
  test("caps lines and bytes per second and reports drops when the next window opens", () => {
    let now = 0;
    const gate = createFloodGate({ linesPerSecond: 3, bytesPerSecond: 100 }, () => now);
    const reports: number[] = [];
    const report = (n: number) => void reports.push(n);
    expect([1, 2, 3, 4, 5].map(() => gate.admit(10, report))).toEqual([true, true, true, false, false]);
    now = 1000;
    expect(gate.admit(90, report)).toBe(true);
    expect(gate.admit(20, report)).toBe(false);
    expect(reports).toEqual([2]);
    gate.flush(report);
    expect(reports).toEqual([2, 1]);
    expect(gate.dropped).toBe(3);
  });
});
