import { describe, expect, test } from "bun:test";
import type { PluginError } from "../errors.ts";
import { createChannel } from "./_channel.ts";

function setup() {
  const written: string[] = [];
  const channel = createChannel("p", 100, (line) => written.push(line));
  const say = (value: unknown) => channel.receive({ text: typeof value === "string" ? value : JSON.stringify(value), truncated: false, bytes: 0 });
  return { channel, written, say };
}
const soon = () => ({ deadline: Date.now() + 5000 });
const codeOf = (promise: Promise<unknown>) => promise.then(() => "resolved", (error: PluginError) => error.code);

describe("stdio channel", () => {
  test("writes one request at a time, the next once the first is answered", async () => {
    const { channel, written, say } = setup();
    const first = channel.call({ action: "get_health" }, soon());
    const second = channel.call({ action: "detect_triggers" }, soon());
    expect(written).toEqual(['{"action":"get_health"}\n']);
    expect(say({ action: "get_health", success: true, data: { status: "healthy" } })).toBe("answer");
    expect(await first).toEqual({ action: "get_health", success: true, data: { status: "healthy" } });
    expect(written).toHaveLength(2);
    say({ action: "detect_triggers", success: true, data: null });
    expect((await second).data).toBeNull();
  });

  test("lines that are not JSON objects are noise, even mid-call", async () => {
    const { channel, say } = setup();
    const call = channel.call({ action: "start" }, soon());
    expect(say("hello")).toBe("noise");
    expect(say("42")).toBe("noise");
    expect(say("[1]")).toBe("noise");
    say({ action: "start", success: true });
    expect((await call).success).toBe(true);
  });

  test("an object with no call in flight is noise", () => {
    expect(setup().say({ action: "start", success: true })).toBe("noise");
  });

  test("a missed deadline owes the next answer; it is discarded before the next request is written", async () => {
    const { channel, written, say } = setup();
    const late = channel.call({ action: "get_health" }, { deadline: Date.now() + 20 });
    const next = channel.call({ action: "start" }, soon());
    expect(await codeOf(late)).toBe("timeout");
    expect(written).toHaveLength(1);
    expect(say({ action: "get_health", success: true, data: {} })).toBe("late");
    expect(written).toHaveLength(2);
    say({ action: "start", success: true });
    expect((await next).action).toBe("start");
  });

  test("queued calls time out at their own deadlines without being written", async () => {
    const { channel, written } = setup();
    void codeOf(channel.call({ action: "get_health" }, soon()));
    expect(await codeOf(channel.call({ action: "start" }, { deadline: Date.now() + 10 }))).toBe("timeout");
    expect(written).toHaveLength(1);
  });

  test("a queued call aborted before it is written rejects as unsent and owes nothing", async () => {
    const { channel, written, say } = setup();
    const first = channel.call({ action: "get_health" }, soon());
    const controller = new AbortController();
    const queued = channel.call({ action: "start" }, { ...soon(), signal: controller.signal });
    controller.abort();
    expect(await codeOf(queued)).toBe("unsent");
    // The call in flight still gets its own answer.
    say({ action: "get_health", success: true });
    expect((await first).action).toBe("get_health");
    expect(written).toHaveLength(1);
  });

  test("sequenced: only a line with the awaited seq answers; a late answer is known by its own seq", async () => {
    const written: string[] = [];
    const channel = createChannel("p", 100, (line) => written.push(line), { sequenced: true });
    const say = (text: string) => channel.receive({ text, truncated: false, bytes: text.length });
    const first = channel.call({ action: "start" }, { deadline: Date.now() + 10 });
    expect(await codeOf(first)).toBe("timeout");
    const second = channel.call({ action: "start" }, soon());
    // Junk, even shaped like an answer, is noise; the expired call's answer is late; then the second is written.
    expect(say('{"action":"start","success":true}')).toBe("noise");
    expect(say('{"seq":1,"action":"start","success":true}')).toBe("late");
    expect(JSON.parse(written[1]!)).toEqual({ action: "start", seq: 2 });
    expect(say('{"seq":1,"action":"start","success":false}')).toBe("noise");
    expect(say('{"seq":2,"action":"start","success":true,"data":7}')).toBe("answer");
    expect((await second).data).toBe(7);
  });

  test("shape problems are invalid_output, the plugins' bare error is plugin_error", async () => {
    const { channel, say } = setup();
    const wrong = channel.call({ action: "start" }, soon());
    say({ action: "stop", success: true });
    expect(await codeOf(wrong)).toBe("invalid_output");
    const shape = channel.call({ action: "start" }, soon());
    say({ action: "start" });
    expect(await codeOf(shape)).toBe("invalid_output");
    const bare = channel.call({ action: "start" }, soon());
    say({ error: "Plugin error: boom" });
    expect(await codeOf(bare)).toBe("plugin_error");
  });

  test("an over-long line that starts like an answer fails the call; other long lines are noise", async () => {
    const { channel } = setup();
    const call = channel.call({ action: "start" }, soon());
    expect(channel.receive({ text: "xxxx", truncated: true, bytes: 500 })).toBe("noise");
    expect(channel.receive({ text: '{"action":', truncated: true, bytes: 500 })).toBe("answer");
    expect(await codeOf(call)).toBe("invalid_output");
  });

  test("close rejects the call in flight, the queue, and every later call", async () => {
    const { channel } = setup();
    const calls = [channel.call({ action: "start" }, soon()), channel.call({ action: "stop" }, soon())];
    channel.close({ message: "gone", code: "crashed" });
    expect(await Promise.all(calls.map(codeOf))).toEqual(["crashed", "crashed"]);
    expect(await codeOf(channel.call({ action: "start" }, soon()))).toBe("crashed");
  });

  test("a write that throws fails that call as crashed", async () => {
    const channel = createChannel("p", 100, () => {
      throw new Error("EPIPE");
    });
    expect(await codeOf(channel.call({ action: "start" }, soon()))).toBe("crashed");
  });
});
