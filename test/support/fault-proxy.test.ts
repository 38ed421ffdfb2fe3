/**
 * Each fault of the fault proxy really happens, seen from a client (fetch, or a raw socket where
 * fetch hides the difference) and from a tiny upstream that counts what reached it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { chaosRandom } from "./chaos.ts";
import { startFaultProxy, type FaultProxy } from "./fault-proxy.ts";

const BODY = JSON.stringify({ ok: true, padding: "x".repeat(200) });
let upstream: ReturnType<typeof Bun.serve>;
let hits: string[] = [];
let proxy: FaultProxy;

beforeAll(() => {
  upstream = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      hits.push(`${request.method} ${url.pathname}${url.search} ${await request.text()}`);
      return new Response(BODY, { headers: { "content-type": "application/json", "x-upstream": "yes" } });
    },
  });
  const { seed, next } = chaosRandom();
  console.info(`fault proxy test seed ${seed}`);
  proxy = startFaultProxy({ upstream: upstream.url.href, random: next });
});
afterEach(() => {
  proxy.setRules([]);
  hits = [];
});
afterAll(() => {
  proxy.stop();
  upstream.stop(true);
});

const get = (path = "/x", init: RequestInit = {}) => fetch(`${proxy.url}${path}`, init);
const delta = async (body: () => Promise<void>) => {
  const before = proxy.counts();
  await body();
  const after = proxy.counts();
  return Object.fromEntries(Object.entries(after).filter(([kind, n]) => n !== before[kind as keyof typeof before]).map(([kind, n]) => [kind, n - before[kind as keyof typeof before]]));
};

/** A raw request, to see what fetch would blur: "reset" (ECONNRESET) against a clean end of stream. */
function raw(request: string): Promise<{ data: string; error?: string }> {
  return new Promise((resolve) => {
    let data = "";
    const socket = connect(proxy.port, "127.0.0.1", () => socket.write(request));
    socket.on("data", (chunk) => (data += chunk));
    socket.on("error", (error: NodeJS.ErrnoException) => resolve({ data, error: error.code }));
    socket.on("close", () => resolve({ data }));
  });
}

describe("fault proxy", () => {
  test("passes requests through with method, path, query, headers and body, over one kept-alive connection", async () => {
    const counted = await delta(async () => {
      const first = await get("/a?b=1", { method: "POST", body: "hello", headers: { "x-test": "1" } });
      expect(first.status).toBe(200);
      expect(first.headers.get("x-upstream")).toBe("yes");
      expect(await first.text()).toBe(BODY);
      expect(await (await get("/c")).text()).toBe(BODY);
    });
    expect(hits).toEqual(["POST /a?b=1 hello", "GET /c "]);
    expect(counted).toEqual({ pass: 2 });
  });

  test("latency delays the answer", async () => {
    proxy.setRules([{ fault: "latency", delayMs: 400 }]);
    const started = performance.now();
    expect(await (await get()).text()).toBe(BODY);
    expect(performance.now() - started).toBeGreaterThanOrEqual(380);
    expect(proxy.counts().latency).toBeGreaterThanOrEqual(1);
  });

  test("close ends the connection with no answer, before or after the upstream saw the request", async () => {
    proxy.setRules([{ fault: "close" }]);
    expect(await raw("GET /x HTTP/1.1\r\nhost: a\r\n\r\n")).toEqual({ data: "" });
    expect(hits).toEqual([]);
    proxy.setRules([{ fault: "close", upstream: true }]);
    // Raw: fetch may repeat a GET whose kept-alive connection closed unanswered.
    expect(await raw("GET /x HTTP/1.1\r\nhost: a\r\n\r\n")).toEqual({ data: "" });
    expect(hits).toHaveLength(1);
    await expect(get()).rejects.toThrow();
  });

  test("reset aborts the connection with a TCP RST", async () => {
    proxy.setRules([{ fault: "reset" }]);
    expect(await raw("GET /x HTTP/1.1\r\nhost: a\r\n\r\n")).toEqual({ data: "", error: "ECONNRESET" });
    await expect(get()).rejects.toThrow();
    expect(hits).toEqual([]);
  });

  test("refuse resets each new connection before reading it", async () => {
    proxy.setRules([{ fault: "refuse" }]);
    const counted = await delta(async () => {
      expect((await raw("")).error).toBe("ECONNRESET");
    });
    expect(counted).toEqual({ refuse: 1 });
  });

  test("blackhole never answers; the client gives up", async () => {
    proxy.setRules([{ fault: "blackhole" }]);
    await expect(get("/x", { signal: AbortSignal.timeout(500) })).rejects.toThrow(/timed out|abort/i);
    expect(hits).toEqual([]);
    proxy.setRules([{ fault: "blackhole", upstream: true }]);
    await expect(get("/x", { signal: AbortSignal.timeout(500) })).rejects.toThrow(/timed out|abort/i);
    expect(hits).toHaveLength(1);
  });

  test("status answers 5xx without reaching the upstream", async () => {
    proxy.setRules([{ fault: "status", status: 502 }]);
    const response = await get();
    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({ error: "unavailable" });
    proxy.setRules([{ fault: "status" }]);
    expect((await get()).status).toBe(503);
    expect(hits).toEqual([]);
  });

  test("throttle answers 429 with Retry-After", async () => {
    proxy.setRules([{ fault: "throttle", retryAfter: 7 }]);
    const response = await get();
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("7");
    await response.text();
  });

  test("truncate sends the head and half the body, then closes", async () => {
    proxy.setRules([{ fault: "truncate" }]);
    const response = await get();
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
    expect(hits).toHaveLength(1);
    const seen = await raw("GET /x HTTP/1.1\r\nhost: a\r\n\r\n");
    expect(seen.data).toContain(`content-length: ${BODY.length}`);
    expect(seen.data.split("\r\n\r\n")[1]).toBe(BODY.slice(0, Math.floor(BODY.length / 2)));
  });

  test("malformed answers the upstream's status with a body that is not JSON", async () => {
    proxy.setRules([{ fault: "malformed" }]);
    const response = await get();
    expect(response.status).toBe(200);
    await expect(response.json()).rejects.toThrow();
    expect(hits).toHaveLength(1);
  });

  test("trickle sends the whole body, slowly", async () => {
    proxy.setRules([{ fault: "trickle", chunkBytes: 64, intervalMs: 100 }]);
    const started = performance.now();
    expect(await (await get()).text()).toBe(BODY);
    // ceil(235 / 64) = 4 chunks, each after 100 ms.
    expect(performance.now() - started).toBeGreaterThanOrEqual(380);
  });

  test("rules match by method and path, first hit wins, with their probability", async () => {
    proxy.setRules([
      { fault: "status", status: 500, method: "POST", path: /^\/events/ },
      { fault: "throttle", path: "/poll" },
      { fault: "status", status: 502, probability: 0.5 },
    ]);
    expect((await get("/events/1", { method: "POST", body: "{}" })).status).toBe(500);
    expect((await get("/events/1")).status).not.toBe(500);
    expect((await get("/poll?wait=1")).status).toBe(429);
    const statuses: number[] = [];
    for (let n = 0; n < 200; n++) {
      const response = await get("/other");
      await response.arrayBuffer();
      statuses.push(response.status);
    }
    const failed = statuses.filter((status) => status === 502).length;
    expect(failed).toBeGreaterThan(60);
    expect(failed).toBeLessThan(140);
    expect(statuses.filter((status) => status !== 502).every((status) => status === 200)).toBe(true);
  });

  test("severAll resets the connections it holds", async () => {
    proxy.setRules([{ fault: "blackhole" }]);
    const held = raw("GET /x HTTP/1.1\r\nhost: a\r\n\r\n");
    await Bun.sleep(0);
    const before = proxy.counts().blackhole;
    while (proxy.counts().blackhole === before) await Bun.sleep(10);
    proxy.severAll();
    expect(await held).toEqual({ data: "", error: "ECONNRESET" });
  });
});
