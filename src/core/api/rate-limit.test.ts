import { afterEach, describe, expect, test } from "bun:test";
import { json, makeClient, makeConfig, NO_INSTRUCTION, startServer, tempDirs, type TestServer } from "./_testkit.ts";
import { createRateLimiter } from "./_rate-limit.ts";

const dirs = tempDirs();
const servers: TestServer[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.stop();
  dirs.cleanup();
});

describe("api.rate_limit_rps", () => {
  test("N requests at R a second, burst B: no more than B + R·t in any first t, at least (N−B)/R in all", async () => {
    const server = startServer(() => json(NO_INSTRUCTION));
    servers.push(server);
    const rps = 20;
    const count = 50;
    const { client } = makeClient(makeConfig(dirs.make(), server.url, [`api.rate_limit_rps=${rps}`]));
    const started = Date.now();
    await Promise.all(Array.from({ length: count }, () => client.poll()));
    const offsets = server.hits.map((hit) => hit.at - started);
    expect(offsets).toHaveLength(count);
    // The burst is one second's worth (20); then one every 50 ms.
    for (const windowMs of [250, 500, 1000]) {
      const inWindow = offsets.filter((offset) => offset < windowMs).length;
      expect(inWindow).toBeLessThanOrEqual(rps + Math.ceil((rps * windowMs) / 1000) + 1);
    }
    // 10 ms for the two clocks (the limiter's performance.now, the server's Date.now).
    expect(Math.max(...offsets)).toBeGreaterThanOrEqual(((count - rps) / rps) * 1000 - 10);
  });

  test("waiting for a token is cut short by the signal", async () => {
    const limiter = createRateLimiter(0.01, 1);
    await limiter.acquire();
    const controller = new AbortController();
    const pending = limiter.acquire(controller.signal);
    controller.abort(new Error("stop"));
    await expect(pending).rejects.toThrow("stop");
  });
});
