import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { json, makeClient, makeConfig, startServer, tempDirs, type TestServer } from "../core/api/_testkit.ts";
import type { RuntimeContext } from "../core/agent/index.ts";
import { prepareAgentHome } from "../core/home/index.ts";
import { createPluginHost, type PluginHost } from "../core/plugin/host.ts";
import { openJournal, type Journal } from "../core/spool/index.ts";
import { NO_AUDIT } from "../core/audit/index.ts";
import type { Instruction } from "../core/protocol/index.ts";
import { handleInstruction } from "./instruction.ts";
import { recoverInterrupted } from "./recovery.ts";

const dirs = tempDirs();
let server: TestServer | undefined;
let host: PluginHost | undefined;
let journal: Journal | undefined;
afterEach(async () => {
  await host?.stopAll();
  journal?.close();
  server?.stop();
  dirs.cleanup();
});

const TEST_PLUGINS = join(import.meta.dir, "testdata", "plugins");

function instruction(extra: Partial<Instruction> = {}): Instruction {
  return {
    id: "i-1",
    plugin_id: "echo",
    instruction_type: "execute",
    plugin_configuration: {},
    input_data: {},
    timeout_seconds: 0,
    max_retries: 0,
    retry_count: 0,
    priority: "normal",
    ...extra,
  };
}

async function context(url: string, abort = new AbortController()): Promise<RuntimeContext> {
  const base = dirs.make();
  const config = makeConfig(base, url, ["api.retry_attempts=0", `plugins.directory=${TEST_PLUGINS}`, "action.cancel_grace_period=200ms"]);
  const { client, logger } = makeClient(config);
  const home = prepareAgentHome(base, "agent-1");
  host = await createPluginHost({ config, home, logger });
  journal = openJournal(join(home.state, "journal.db"));
  return { config: () => config, api: client, logger, home, stop: new AbortController().signal, abort: abort.signal, audit: NO_AUDIT };
}

const ACK = () => json({ acknowledged: true, next_instruction: null });
const UPDATED = (request: Request) => json({ success: true, instruction_id: new URL(request.url).pathname.split("/")[5], updated_fields: ["status"] });
const orchestrator = () => startServer((request) => (request.method === "PUT" ? UPDATED(request) : ACK()));
const results = (server: TestServer) => server.hits.filter((hit) => hit.path.endsWith("/result")).map((hit) => JSON.parse(hit.body));

async function run(item: Instruction, ctx: RuntimeContext, cancel = new AbortController()) {
  return handleInstruction({ instruction: item, cancel: cancel.signal }, { context: ctx, plugins: host!, journal: journal! });
}

describe("running an instruction through its plugin", () => {
  test("the built-in echo action completes with its data, after the agent says executing", async () => {
    server = orchestrator();
    await run(instruction({ plugin_configuration: { message: "hi" }, input_data: { n: 1 } }), await context(server.url));
    // executing, then the result, which carries the log of a run shorter than the update interval.
    expect(server.hits.map((hit) => `${hit.method} ${hit.path}`)).toEqual([
      "PUT /agents/v1/agent-1/instructions/i-1",
      "POST /agents/v1/agent-1/instructions/i-1/result",
    ]);
    expect(JSON.parse(server.hits[0]!.body)).toEqual({ status: "executing" });
    const [result] = results(server);
    expect(result.status).toBe("completed");
    expect(result.result).toMatchObject({ parameters: { message: "hi", n: 1 }, message: "hi", agent: "agent-1" });
    expect(result.execution_log.join("\n")).toContain("echo");
  });

  test("a longer run streams its log lines as execution_log updates, at most one a second", async () => {
    server = orchestrator();
    await run(instruction({ input_data: { sleep_ms: 2_500 }, timeout_seconds: 10 }), await context(server.url));
    const updates = server.hits.filter((hit) => hit.method === "PUT" && JSON.parse(hit.body).execution_log);
    expect(updates.length).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(updates[0]!.body).execution_log.join("\n")).toContain("sleeping");
    for (let i = 1; i < updates.length; i++) expect(updates[i]!.at - updates[i - 1]!.at).toBeGreaterThanOrEqual(900);
    expect(results(server)[0].status).toBe("completed");
  });

  test("a missing plugin is reported failed, saying so", async () => {
    server = orchestrator();
    await run(instruction({ plugin_id: "restart-service" }), await context(server.url));
    const [result] = results(server);
    expect(result.status).toBe("failed");
    expect(result.error_message).toBe('plugin restart-service: plugin "restart-service" is not installed on this agent');
    expect(result.error_details).toMatchObject({ reason: "plugin_not_installed", plugin_id: "restart-service" });
  });

  test("an expired instruction is never started and reported failed with reason expired", async () => {
    server = orchestrator();
    const expiresAt = new Date(Date.now() - 60_000).toISOString();
    await run(instruction({ expires_at: expiresAt }), await context(server.url));
    expect(server.hits.some((hit) => hit.method === "PUT")).toBe(false);
    expect(results(server)[0].error_details).toEqual({ reason: "expired", expires_at: expiresAt });
  });

  test("a plugin past its timeout is aborted, then killed after the grace period: status timeout", async () => {
    server = orchestrator();
    await run(instruction({ plugin_id: "sleeper", timeout_seconds: 1, input_data: { stubborn: true } }), await context(server.url));
    const [result] = results(server);
    expect(result.status).toBe("timeout");
    expect(result.error_details).toMatchObject({ code: "timeout" });
  });

  test("cancellation aborts the plugin: status cancelled", async () => {
    server = orchestrator();
    const cancel = new AbortController();
    const pending = run(instruction({ plugin_id: "sleeper" }), await context(server.url), cancel);
    await server.waitForHits(1); // the executing PUT: the plugin is running
    cancel.abort();
    await pending;
    expect(results(server)[0].status).toBe("cancelled");
  });

  test("an update answered with cancelled: true cancels the run", async () => {
    server = startServer((request) =>
      request.method === "PUT"
        ? json({ success: true, instruction_id: "i-1", updated_fields: ["status"], cancelled: true })
        : json({ acknowledged: true, next_instruction: null }),
    );
    const cancel = new AbortController();
    await handleInstruction(
      { instruction: instruction({ plugin_id: "sleeper" }), cancel: cancel.signal, onCancelled: () => cancel.abort() },
      { context: await context(server.url), plugins: host!, journal: journal! },
    );
    expect(results(server)[0].status).toBe("cancelled");
  });

  test("the result is sent again until acknowledged, then the chained instruction is returned", async () => {
    let resultPosts = 0;
    server = startServer((request) => {
      if (request.method === "PUT") return UPDATED(request);
      return ++resultPosts < 3 ? new Response("busy", { status: 503 }) : json({ acknowledged: true, next_instruction: instruction({ id: "i-2" }) });
    });
    const next = await run(instruction(), await context(server.url));
    expect(next?.id).toBe("i-2");
    const posts = server.hits.filter((hit) => hit.method === "POST");
    expect(posts).toHaveLength(3);
    // The same key each time, so the orchestrator stores the result once.
    expect(new Set(posts.map((hit) => hit.headers.get("idempotency-key"))).size).toBe(1);
  });

  test("a forced stop ends the retries", async () => {
    server = startServer((request) => (request.method === "PUT" ? UPDATED(request) : new Response("down", { status: 503 })));
    const abort = new AbortController();
    const pending = run(instruction(), await context(server.url, abort));
    await server.waitForHits(2);
    abort.abort();
    expect(await pending).toBeUndefined();
  });

  test("the same instruction delivered twice runs once; the second delivery gets the stored result", async () => {
    server = orchestrator();
    const ctx = await context(server.url);
    const item = instruction({ plugin_id: "flaky", input_data: { failures: 0 } });
    await run(item, ctx);
    await run(item, ctx);
    const [first, second] = results(server);
    expect(first).toMatchObject({ status: "completed", result: { runs: 1 } });
    expect(second).toEqual(first);
    expect(server.hits.filter((hit) => hit.method === "PUT" && JSON.parse(hit.body).status === "executing")).toHaveLength(1);
  });

  test("retryable failures are retried up to max_retries, with retry_count reported", async () => {
    server = orchestrator();
    await run(instruction({ plugin_id: "flaky", max_retries: 3, input_data: { failures: 2 } }), await context(server.url));
    expect(results(server)[0]).toMatchObject({ status: "completed", result: { runs: 3 }, retry_count: 2 });
  }, 30_000);

  test("retries stop at max_retries", async () => {
    server = orchestrator();
    await run(instruction({ plugin_id: "flaky", max_retries: 1, input_data: { failures: 5 } }), await context(server.url));
    expect(results(server)[0]).toMatchObject({ status: "failed", retry_count: 1, error_details: { retryable: true } });
  }, 30_000);

  test("a journal that cannot be written (disk full) holds the instruction, then runs it once when it can", async () => {
    server = orchestrator();
    const ctx = await context(server.url);
    const real = journal!;
    // receive, start and finish each fail twice, as on a full disk, then succeed.
    const failures = new Map<string, number>();
    const flaky = <A extends unknown[], R>(step: string, write: (...args: A) => R) => (...args: A): R => {
      const failed = failures.get(step) ?? 0;
      if (failed < 2) {
        failures.set(step, failed + 1);
        throw new Error(`journal /x/journal.db: ${step} failed: database or disk is full`);
      }
      return write(...args);
    };
    const full: Journal = { ...real, receive: flaky("receive", real.receive), start: flaky("start", real.start), finish: flaky("finish", real.finish) };
    const problems: Array<string | undefined> = [];
    await handleInstruction(
      { instruction: instruction({ plugin_id: "flaky", input_data: { failures: 0 } }), cancel: new AbortController().signal },
      { context: ctx, plugins: host!, journal: full, onJournal: (problem) => problems.push(problem) },
    );
    expect(results(server)).toEqual([expect.objectContaining({ status: "completed", result: { runs: 1 } })]);
    expect(real.get("i-1")).toMatchObject({ state: "finished", acknowledged: true, attempts: 1 });
    expect(problems.filter(Boolean)).toHaveLength(6);
    expect(problems.at(-1)).toBeUndefined();
  }, 30_000);

  test("a forced stop while the journal cannot be written ends the wait; the instruction was never run", async () => {
    server = orchestrator();
    const abort = new AbortController();
    const ctx = await context(server.url, abort);
    const full: Journal = {
      ...journal!,
      receive: () => {
        throw new Error("journal /x/journal.db: receive failed: database or disk is full");
      },
    };
    const pending = handleInstruction({ instruction: instruction(), cancel: new AbortController().signal }, { context: ctx, plugins: host!, journal: full });
    setTimeout(() => abort.abort(), 300);
    await expect(pending).rejects.toThrow(/journal\.db: receive failed: database or disk is full/);
    expect(server.hits).toEqual([]);
  });

  test("at boot, an instruction cut off mid-run is failed with agent_restarted unless its plugin is idempotent", async () => {
    server = orchestrator();
    const ctx = await context(server.url);
    for (const item of [instruction({ id: "cut-flaky", plugin_id: "flaky" }), instruction({ id: "cut-echo", plugin_id: "echo" }), instruction({ id: "never-started" })]) {
      journal!.receive(item);
      if (item.id !== "never-started") journal!.start(item.id);
    }
    const rerun = recoverInterrupted(journal!, host!, ctx);
    // echo declares itself idempotent; a received-but-never-started instruction is simply run.
    expect(rerun.map((item) => item.id)).toEqual(["cut-echo", "never-started"]);
    expect(journal!.get("cut-flaky")).toMatchObject({ state: "finished", result: { status: "failed", error_details: { reason: "agent_restarted" } } });
    expect(journal!.outbox().map((entry) => entry.id)).toEqual(["cut-flaky"]);
  });
});
