import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:net";
import { ApiError } from "./errors.ts";
import { MAX_BODY_BYTES } from "./_body.ts";
import { json, makeClient, makeConfig, startServer, tempDirs, TOKEN, type TestServer } from "./_testkit.ts";

const dirs = tempDirs();
const servers: TestServer[] = [];
let unhandled = 0;
const onUnhandled = () => void unhandled++;
beforeAll(() => void process.on("unhandledRejection", onUnhandled));
afterAll(() => void process.off("unhandledRejection", onUnhandled));
afterEach(() => {
  for (const server of servers.splice(0)) server.stop();
  dirs.cleanup();
  expect(unhandled).toBe(0);
});

/** Polls a server answering `respond`; expects a rejection of `kind` and returns it with the log. */
async function pollFailure(respond: () => Response, kind: ApiError["kind"]) {
  const server = startServer(respond);
  servers.push(server);
  const { client, logger } = makeClient(makeConfig(dirs.make(), server.url));
  const error = await client.poll().then(() => expect.unreachable("expected a rejection"), (e: unknown) => e);
  expect(error).toBeInstanceOf(ApiError);
  expect((error as ApiError).kind).toBe(kind);
  // A bad answer would be the same again: not repeated, though GET is safe to repeat.
  expect(server.hits).toHaveLength(1);
  return { error: error as ApiError, warnings: logger.lines.filter((line) => line.level === "warn"), client };
}

describe("answers the agent cannot use", () => {
  test("not JSON: logged with a redacted excerpt", async () => {
    const { error, warnings } = await pollFailure(() => new Response(`<html>oops ${TOKEN}</html>`, { status: 200 }), "malformed");
    expect(error.message).toContain("not JSON");
    expect(warnings).toHaveLength(1);
    const fields = warnings[0]?.fields as Record<string, unknown>;
    expect(fields.excerpt).toBe("<html>oops [REDACTED]</html>");
    expect(JSON.stringify(warnings)).not.toContain(TOKEN);
  });

  test("wrong-typed fields name the field", async () => {
    const { error } = await pollFailure(() => json({ instruction: { id: 7, plugin_id: "p", instruction_type: "execute" }, status: "ok" }), "malformed");
    expect(error.message).toContain("instruction.id");
  });

  test("an array where an object is expected (valibot's object() alone would take it)", async () => {
    const { error } = await pollFailure(() => json([1, 2, 3]), "malformed");
    expect(error.message).toContain("expected a JSON object, got an array");
  });

  test("an empty body where an answer is required", async () => {
    await pollFailure(() => new Response(null, { status: 200 }), "malformed");
  });

  test("too large, by Content-Length", async () => {
    await pollFailure(() => new Response("x".repeat(MAX_BODY_BYTES + 1)), "too_large");
  });

  test("too large, streamed without a length", async () => {
    const chunk = new Uint8Array(1024 * 1024).fill(32);
    let sent = 0;
    const stream = () =>
      new ReadableStream({
        pull(controller) {
          // Endless: the client must stop reading by itself.
          sent += chunk.byteLength;
          controller.enqueue(chunk);
        },
      });
    const { error } = await pollFailure(() => new Response(stream()), "too_large");
    expect(error.message).toContain(`${MAX_BODY_BYTES} bytes`);
    expect(sent).toBeLessThan(64 * MAX_BODY_BYTES);
  });
});

describe("an answer that stalls", () => {
  test("half-way through the body hits the request's deadline", async () => {
    const server = startServer(
      () =>
        new Response(
          new ReadableStream({
            start(controller) {
              controller.enqueue(new TextEncoder().encode('{"instruction":'));
              // …and nothing more, ever.
            },
          }),
        ),
    );
    servers.push(server);
    const { client } = makeClient(makeConfig(dirs.make(), server.url, ["api.timeout=200ms", "api.retry_attempts=0"]));
    const error = (await client.poll().catch((e: unknown) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.kind).toBe("timeout");
  });
});

describe("a truncated answer", () => {
  let raw: Server;
  let port = 0;
  let hits = 0;
  beforeAll(async () => {
    // Bun.serve always sends a correct Content-Length; a raw socket can lie and hang up.
    raw = createServer((socket) => {
      socket.once("data", () => {
        hits++;
        socket.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"instruction":null,');
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, "127.0.0.1", resolve));
    port = (raw.address() as { port: number }).port;
  });
  afterAll(() => void raw.close());

  test("is malformed, logged, and not repeated", async () => {
    const { client, logger } = makeClient(makeConfig(dirs.make(), `http://127.0.0.1:${port}`));
    const error = (await client.poll().catch((e: unknown) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.kind).toBe("malformed");
    expect(error.message).toContain("truncated");
    expect(hits).toBe(1);
    expect(logger.lines.filter((line) => line.level === "warn")).toHaveLength(1);
    expect(client.state.lastError).toContain("truncated");
  });
});
