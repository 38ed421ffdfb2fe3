import { afterEach, describe, expect, test } from "bun:test";
import { json, makeClient, makeConfig, NO_INSTRUCTION, startServer, tempDirs, type TestServer } from "../api/_testkit.ts";
import { createPoller } from "./poll.ts";

const dirs = tempDirs();
let server: TestServer | undefined;
afterEach(() => {
  server?.stop();
  dirs.cleanup();
});

const INSTRUCTION = { id: "i-1", plugin_id: "p", instruction_type: "execute", plugin_configuration: {}, input_data: {}, timeout_seconds: 0, max_retries: 0 };

function poller(url: string, set: string[] = [], intervalMs = 10_000) {
  const controller = new AbortController();
  const { client, logger } = makeClient(makeConfig(dirs.make(), url, set));
  const poll = createPoller({ api: client, logger, waitSeconds: 5, intervalMs: () => intervalMs, errorBackoffMs: 10, signal: controller.signal });
  return { poll, logger, controller };
}

const gaps = (server: TestServer) => server.hits.slice(1).map((hit, index) => hit.at - server.hits[index]!.at);

describe("instruction polling", () => {
  test("asks for a long poll and returns the instruction it carries", async () => {
    server = startServer(() => json({ instruction: INSTRUCTION, status: "ok" }));
    const { poll } = poller(server.url);
    expect((await poll.nextInstruction())?.id).toBe("i-1");
    expect(server.hits[0]!.search).toBe("?wait=5");
  });

  test("an orchestrator that answers at once is asked again only after next_poll_interval", async () => {
    server = startServer((_request, _hit, index) => (index < 3 ? json({ ...NO_INSTRUCTION, next_poll_interval: 0.2 }) : json({ instruction: INSTRUCTION, status: "ok" })));
    const { poll } = poller(server.url);
    expect((await poll.nextInstruction())?.id).toBe("i-1");
    expect(server.hits).toHaveLength(4);
    for (const gap of gaps(server)) expect(gap).toBeGreaterThanOrEqual(190);
  });

  test("without next_poll_interval it falls back to agent.poll_interval", async () => {
    server = startServer((_request, _hit, index) => (index < 2 ? json(NO_INSTRUCTION) : json({ instruction: INSTRUCTION, status: "ok" })));
    const { poll } = poller(server.url, [], 300);
    await poll.nextInstruction();
    for (const gap of gaps(server)) expect(gap).toBeGreaterThanOrEqual(290);
  });

  test("errors back off instead of spinning, and are logged at 1, 2, 4 … failures", async () => {
    server = startServer((_request, _hit, index) => (index < 4 ? new Response("down", { status: 503 }) : json({ instruction: INSTRUCTION, status: "ok" })));
    const { poll, logger } = poller(server.url, ["api.retry_attempts=0"]);
    expect((await poll.nextInstruction())?.id).toBe("i-1");
    expect(server.hits).toHaveLength(5);
    for (const gap of gaps(server)) expect(gap).toBeGreaterThanOrEqual(240);
    const warnings = logger.lines.filter((line) => line.msg === "instruction poll failed");
    expect(warnings.map((line) => (line.fields as Record<string, unknown>).failures)).toEqual([1, 2, 4]);
  });

  test("a malformed answer is a failed poll, not a crash", async () => {
    server = startServer((_request, _hit, index) => (index === 0 ? new Response("{not json", { headers: { "content-type": "application/json" } }) : json({ instruction: INSTRUCTION, status: "ok" })));
    const { poll, logger } = poller(server.url);
    expect((await poll.nextInstruction())?.id).toBe("i-1");
    expect(logger.lines.some((line) => line.msg === "instruction poll failed")).toBe(true);
  });

  test("stopping ends a poll that is being held open", async () => {
    let held: (() => void) | undefined;
    server = startServer(() => new Promise<Response>((resolve) => (held = () => resolve(json(NO_INSTRUCTION)))));
    const { poll, controller } = poller(server.url);
    const pending = poll.nextInstruction();
    await server.waitForHits(1);
    controller.abort();
    expect(await pending).toBeUndefined();
    held?.();
  });
});
