/**
 * An orchestrator that answers every call with garbage — malformed, truncated, oversized,
 * wrong-typed, empty, HTML, random bytes, 5xx — for a while: the compiled agent stays alive and
 * healthy, spins on nothing, and counts every answer as an error.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeAgentConfig } from "../support/agents.ts";
import { hostBinary } from "../support/binary.ts";
import { killAll, startProcess, waitUntil } from "../support/process.ts";

const dir = mkdtempSync(join(tmpdir(), "stavily-hostile-"));
afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

const NINE_MIB = "x".repeat(9 * 1024 * 1024);

/**
 * The garbage, in turn. None of it is a valid answer to any call (an empty 200 is not here: it is a
 * valid heartbeat answer, like 204).
 */
const ANSWERS: Array<() => Response> = [
  () => new Response("{not json", { headers: { "content-type": "application/json" } }),
  // Wrong-typed for every call (register's fields are all optional, so it needs its own).
  () => Response.json({ instruction: 5, status: [], cancel_instructions: "all", acknowledged: "yes", success: "maybe", next_poll_interval: -1, registered: "yes", heartbeat_interval: "soon" }),
  () => new Response(`{"padding":"${NINE_MIB}"}`, { headers: { "content-type": "application/json" } }),
  () => new Response("<html><body>502 Bad Gateway</body></html>", { headers: { "content-type": "text/html" } }),
  () => new Response(crypto.getRandomValues(new Uint8Array(2048)), { headers: { "content-type": "application/json" } }),
  () => new Response("upstream down", { status: 503 }),
  () =>
    // Truncated: the body stream fails halfway through.
    new Response(
      new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"instruction": {"id": "i-1", "plugin_'));
          controller.error(new Error("connection reset"));
        },
      }),
      { headers: { "content-type": "application/json" } },
    ),
  () => Response.json([1, 2, 3]),
];

test("garbage from the orchestrator for a while: the agent stays healthy and counts every answer as an error", async () => {
  let answered = 0;
  const hostile = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () => ANSWERS[answered++ % ANSWERS.length]!(),
  });
  const port = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const healthPort = port.port!;
  port.stop(true);
  const config = writeAgentConfig(dir, {
    type: "action",
    id: "hostile-target",
    baseDir: join(dir, "agents"),
    url: `http://127.0.0.1:${hostile.port}`,
    extra: { agent: { poll_interval: "1s" }, api: { retry_attempts: 1, retry_delay: "50ms" }, health: { port: healthPort }, logging: { level: "warn" } },
  });
  const agent = startProcess([await hostBinary(), "action", "-c", config]);
  const health = `http://127.0.0.1:${healthPort}`;
  // Long enough for every kind of garbage to reach every kind of call, several times.
  await waitUntil(() => (answered >= ANSWERS.length * 4 ? true : undefined), `${ANSWERS.length * 4} hostile answers`, 60_000);

  expect(agent.proc.exitCode).toBeNull();
  expect((await fetch(`${health}/health`)).status).toBe(200);
  const ready = await fetch(`${health}/ready`);
  expect(ready.status).toBe(503);
  expect(JSON.stringify(await ready.json())).toContain("orchestrator");

  const metrics = await (await fetch(`${health}/metrics`)).text();
  const calls = [...metrics.matchAll(/^stavily_http_requests_total\{(.*)\} (\d+)$/gm)].map(([, labels, value]) => ({ code: /code="([^"]*)"/.exec(labels!)![1]!, count: Number(value) }));
  const counted = calls.reduce((sum, call) => sum + call.count, 0);
  // Every answer is an error: none is counted as a success.
  expect(calls.filter((call) => /^2\d\d$/.test(call.code)), metrics).toEqual([]);
  const codes = calls.map((call) => call.code);
  for (const kind of ["malformed", "too_large"]) expect(codes).toContain(kind);
  // Each answer the server gave was counted (a call in flight at the scrape may be missing).
  const served = answered;
  expect(counted).toBeGreaterThanOrEqual(served - 8);
  expect(counted).toBeLessThanOrEqual(served);

  agent.kill("SIGTERM");
  expect(await agent.exited).toBe(0);
  hostile.stop(true);
}, 120_000);
