import { afterEach, describe, expect, test } from "bun:test";
import { ApiError } from "./errors.ts";
import { json, makeClient, makeConfig, NO_INSTRUCTION, startServer, tempDirs, type TestServer } from "./_testkit.ts";

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
const heartbeat = { timestamp: new Date().toISOString(), status: "online" as const };
const failure = (promise: Promise<unknown>) => promise.then(() => expect.unreachable("expected a rejection"), (error: unknown) => error);

describe("retries", () => {
  test("wait at least Retry-After in seconds", async () => {
    let sentAt = 0;
    const server = serve((_, __, index) => {
      if (index > 0) return json(NO_INSTRUCTION);
      sentAt = Date.now();
      return new Response("busy", { status: 503, headers: { "retry-after": "1" } });
    });
    const { client } = makeClient(makeConfig(dirs.make(), server.url));
    await client.poll();
    expect(server.hits).toHaveLength(2);
    expect(server.hits[1]!.at - sentAt).toBeGreaterThanOrEqual(1000);
  });

  test("wait until a Retry-After HTTP date", async () => {
    let until = 0;
    const server = serve((_, __, index) => {
      if (index > 0) return json(NO_INSTRUCTION);
      // HTTP dates have whole seconds: the next whole second after one from now.
      until = Math.ceil(Date.now() / 1000) * 1000 + 1000;
      return new Response(null, { status: 429, headers: { "retry-after": new Date(until).toUTCString() } });
    });
    const { client } = makeClient(makeConfig(dirs.make(), server.url));
    await client.poll();
    expect(server.hits).toHaveLength(2);
    expect(server.hits[1]!.at).toBeGreaterThanOrEqual(until);
  });

  test("an unkeyed POST is never repeated", async () => {
    const server = serve(() => new Response("down", { status: 503 }));
    const { client } = makeClient(makeConfig(dirs.make(), server.url));
    const error = await failure(client.heartbeat(heartbeat));
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(503);
    expect((error as ApiError).retryable).toBe(true);
    expect(server.hits).toHaveLength(1);
  });

  test("a keyed POST is repeated with the same Idempotency-Key", async () => {
    const server = serve((_, __, index) => (index < 2 ? new Response(null, { status: 502 }) : json({ acknowledged: true })));
    const { client } = makeClient(makeConfig(dirs.make(), server.url));
    expect(await client.result("i-9", { status: "failed", error_message: "x" })).toEqual({ acknowledged: true, next_instruction: null });
    expect(server.hits).toHaveLength(3);
    const keys = new Set(server.hits.map((hit) => hit.headers.get("idempotency-key")));
    expect([...keys]).toEqual(["result:i-9:failed"]);
    const traces = new Set(server.hits.map((hit) => hit.headers.get("traceparent")));
    expect(traces.size).toBe(3);
  });

  test("give up after api.retry_attempts retries", async () => {
    const server = serve(() => new Response(null, { status: 500 }));
    const { client } = makeClient(makeConfig(dirs.make(), server.url, ["api.retry_attempts=2"]));
    const error = (await failure(client.poll())) as ApiError;
    expect(error.kind).toBe("http");
    expect(error.message).toContain('[GET] "/agents/v1/agent-1/instructions": 500');
    expect(server.hits).toHaveLength(3);
    expect(client.state.ready).toBe(false);
    expect(client.state.lastError).toContain("500");
  });

  test("a 4xx other than 408/429 is not repeated", async () => {
    const server = serve(() => new Response("bad", { status: 400 }));
    const { client } = makeClient(makeConfig(dirs.make(), server.url));
    const error = (await failure(client.poll())) as ApiError;
    expect(error.retryable).toBe(false);
    expect(server.hits).toHaveLength(1);
  });

  test("a redirect is not followed: the token stays with the configured server", async () => {
    const server = serve(() => new Response(null, { status: 302, headers: { location: "http://127.0.0.1:1/elsewhere" } }));
    const { client } = makeClient(makeConfig(dirs.make(), server.url));
    const error = (await failure(client.poll())) as ApiError;
    expect(error).toMatchObject({ kind: "http", status: 302, retryable: false });
    expect(error.message).toContain("api.base_url");
    expect(server.hits).toHaveLength(1);
  });

  test("a request that times out is repeated", async () => {
    const server = serve((_, __, index) => (index === 0 ? new Promise<Response>(() => {}) : json(NO_INSTRUCTION)));
    const { client } = makeClient(makeConfig(dirs.make(), server.url, ["api.timeout=100ms"]));
    expect(await client.poll()).toEqual({ instruction: null, status: "no_instructions" });
    expect(server.hits).toHaveLength(2);
  });

  test("a refused connection is a retryable network error", async () => {
    const server = serve(() => json(NO_INSTRUCTION));
    server.stop();
    const { client } = makeClient(makeConfig(dirs.make(), server.url, ["api.retry_attempts=1"]));
    const error = (await failure(client.poll())) as ApiError;
    expect(error.kind).toBe("network");
    expect(error.retryable).toBe(true);
  });

  test("the caller's signal cuts a backoff wait short", async () => {
    const server = serve(() => new Response(null, { status: 503, headers: { "retry-after": "30" } }));
    const { client } = makeClient(makeConfig(dirs.make(), server.url));
    const controller = new AbortController();
    const started = Date.now();
    const pending = failure(client.poll({ signal: controller.signal }));
    await server.waitForHits(1);
    controller.abort(new Error("shutting down"));
    expect(((await pending) as Error).message).toBe("shutting down");
    expect(Date.now() - started).toBeLessThan(5000);
    expect(server.hits).toHaveLength(1);
  });

  test("the caller's signal aborts a request in flight", async () => {
    const server = serve(() => new Promise<Response>(() => {}));
    const { client } = makeClient(makeConfig(dirs.make(), server.url));
    const controller = new AbortController();
    const pending = failure(client.poll({ waitSeconds: 30, signal: controller.signal }));
    await server.waitForHits(1);
    controller.abort(new Error("stop now"));
    expect(((await pending) as Error).message).toBe("stop now");
  });
});
