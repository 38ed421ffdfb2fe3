import { afterEach, describe, expect, test } from "bun:test";
import { StavilyError } from "../errors.ts";
import { ApiError } from "./errors.ts";
import { json, makeClient, makeConfig, NO_INSTRUCTION, startServer, tempDirs, TOKEN, type TestServer } from "./_testkit.ts";

const dirs = tempDirs();
const servers: TestServer[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.stop();
  dirs.cleanup();
});
const serve = (...args: Parameters<typeof startServer>) => {
  const server = startServer(...args);
  servers.push(server);
  return server;
};

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;
const heartbeat = { timestamp: new Date().toISOString(), status: "online" as const };
const registration = { agent_type: "action" as const, name: "a", version: "1", hostname: "h", os: "linux", arch: "x64", tenant_id: "", environment: "", region: "", tags: [], plugins: [], max_concurrent_tasks: 1 };

describe("requests", () => {
  test("carry auth, content type, accept, user agent and a fresh traceparent", async () => {
    const server = serve(() => json(NO_INSTRUCTION));
    const { client } = makeClient(makeConfig(dirs.make(), server.url));
    await client.poll();
    await client.poll();
    const [first, second] = server.hits;
    expect(first?.path).toBe("/agents/v1/agent-1/instructions");
    expect(first?.headers.get("authorization")).toBe(`Bearer ${TOKEN}`);
    expect(first?.headers.get("content-type")).toBe("application/json");
    expect(first?.headers.get("accept")).toBe("application/json");
    expect(first?.headers.get("user-agent")).toMatch(/^stavily-agent\/\S+ \(action; \w+\/\w+\)$/);
    expect(first?.headers.get("traceparent")).toMatch(TRACEPARENT);
    expect(second?.headers.get("traceparent")).toMatch(TRACEPARENT);
    expect(second?.headers.get("traceparent")).not.toBe(first?.headers.get("traceparent"));
    expect(first?.headers.get("idempotency-key")).toBeNull();
  });

  test("a user agent from the config is sent as is", async () => {
    const server = serve(() => json(NO_INSTRUCTION));
    const { client } = makeClient(makeConfig(dirs.make(), server.url, ["api.user_agent=custom/1"]));
    await client.poll();
    expect(server.hits[0]?.headers.get("user-agent")).toBe("custom/1");
  });

  test("creating POSTs carry an Idempotency-Key; the heartbeat does not", async () => {
    const server = serve((_, hit) => {
      if (hit.path.endsWith("/register")) return json({ registered: true });
      if (hit.path.endsWith("/events")) return json({ accepted: 1 });
      if (hit.path.endsWith("/result")) return json({ acknowledged: true });
      return new Response(null, { status: 204 });
    });
    const { client } = makeClient(makeConfig(dirs.make(), server.url));
    expect(await client.register(registration)).toEqual({ supported: true });
    const event = { id: "e1", type: "t", source: "s", trigger_id: "", agent_id: "", timestamp: new Date().toISOString(), severity: "low" as const, data: {}, metadata: {}, tags: [] };
    expect(await client.sendEvents([event], "batch-7")).toEqual({ accepted: 1, supported: true });
    await client.result("in/1 x", { status: "completed" });
    await client.result("in/1 x", { status: "completed" });
    expect(await client.heartbeat(heartbeat)).toEqual({ cancel_instructions: [] });
    const keys = server.hits.map((hit) => hit.headers.get("idempotency-key"));
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe("batch-7");
    expect(keys[2]).toBe("result:in/1 x:completed");
    expect(keys[3]).toBe(keys[2]);
    expect(keys[4]).toBeNull();
    expect(server.hits[2]?.path).toBe("/agents/v1/agent-1/instructions/in%2F1%20x/result");
    expect(JSON.parse(server.hits[1]?.body ?? "")).toEqual({ events: [event] });
  });

  test("heartbeat answers with the cancellations the orchestrator lists", async () => {
    const server = serve(() => json({ cancel_instructions: ["i-1"] }));
    const { client } = makeClient(makeConfig(dirs.make(), server.url));
    expect(await client.heartbeat(heartbeat)).toEqual({ cancel_instructions: ["i-1"] });
    expect(JSON.parse(server.hits[0]?.body ?? "")).toEqual(heartbeat);
  });

  test("update is a PUT to the instruction", async () => {
    const server = serve(() => json({ success: true, instruction_id: "i-1" }));
    const { client } = makeClient(makeConfig(dirs.make(), server.url));
    expect(await client.update("i-1", { status: "executing" })).toEqual({ success: true, instruction_id: "i-1", updated_fields: [], cancelled: false });
    expect(server.hits[0]?.method).toBe("PUT");
    expect(server.hits[0]?.path).toBe("/agents/v1/agent-1/instructions/i-1");
  });

  test("404 on register and events means the extension is not supported", async () => {
    const server = serve(() => new Response("not found", { status: 404 }));
    const { client } = makeClient(makeConfig(dirs.make(), server.url));
    expect(await client.register(registration)).toEqual({ supported: false });
    expect(await client.sendEvents([], "k")).toEqual({ accepted: 0, supported: false });
    expect(server.hits).toHaveLength(2);
  });

  test("a long poll gets api.timeout plus the wait", async () => {
    // The server answers after 400 ms; api.timeout alone (150 ms) would give up first.
    const server = serve(() => Bun.sleep(400).then(() => json(NO_INSTRUCTION)));
    const { client } = makeClient(makeConfig(dirs.make(), server.url, ["api.timeout=150ms", "api.retry_attempts=0"]));
    expect(await client.poll({ waitSeconds: 1 })).toEqual({ instruction: null, status: "no_instructions" });
    expect(server.hits[0]?.search).toBe("?wait=1");
    const error = await client.poll().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).kind).toBe("timeout");
  });

  test("state tracks the last success", async () => {
    const server = serve(() => json(NO_INSTRUCTION));
    const { client } = makeClient(makeConfig(dirs.make(), server.url));
    expect(client.state.ready).toBe(false);
    await client.poll();
    expect(client.state.ready).toBe(true);
    expect(client.state.lastSuccessAt).toBeNumber();
  });
});

describe("settings refused at creation", () => {
  test("plain http:// to another machine, unless api.allow_insecure", () => {
    const dir = dirs.make();
    const attempt = () => makeClient(makeConfig(dir, "http://orchestrator.example.com:8000"));
    expect(attempt).toThrow(StavilyError);
    try {
      attempt();
    } catch (error) {
      expect((error as StavilyError).exitCode).toBe(2);
      expect((error as StavilyError).component).toBe("api");
      expect((error as Error).message).toContain("http://");
    }
    const { logger } = makeClient(makeConfig(dir, "http://orchestrator.example.com:8000", ["api.allow_insecure=true"]));
    expect(logger.lines.some((line) => line.level === "warn" && line.msg.includes("unencrypted"))).toBe(true);
  });

  test("plain http:// to loopback is fine", () => {
    const dir = dirs.make();
    for (const url of ["http://localhost:1", "http://127.1.2.3:1", "http://[::1]:1"]) {
      expect(() => makeClient(makeConfig(dir, url))).not.toThrow();
    }
  });
});
