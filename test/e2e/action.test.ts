/**
 * The action agent's promises, with the compiled binary: `stavily action` and `stavily orchestrator`
 * as real processes on 127.0.0.1. Instructions run concurrently, stop on time or on request (and
 * their processes with them), run once however often they are delivered, end `agent_restarted`
 * when the agent dies under them, and lose no result while the orchestrator is down.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { startOrchestrator as startShared, writeAgentConfig } from "../support/agents.ts";
import { hostBinary } from "../support/binary.ts";
import { freePort, killAll, startProcess, waitUntil, type TestProcess } from "../support/process.ts";

const ADMIN = "test-admin-token-0123456789";
const FINAL = ["completed", "failed", "timeout", "cancelled"];
const dir = mkdtempSync(join(tmpdir(), "stavily-action-"));
let binary: string;
/** The orchestrator of the tests that need nothing special of it (default 60 s lease). */
let shared: Orchestrator;
/** `sleep N` processes the tests started; whatever is left of them is killed at the end. */
const sleeps: string[][] = [];

interface Orchestrator {
  process: TestProcess;
  url: string;
  admin(path: string, init?: RequestInit): Promise<any>;
}

/** A test's processes, named, so a failure shows what each of them said. */
interface Scene {
  orchestrator(options?: { listen?: string; db?: string; lease?: string; name?: string }): Promise<Orchestrator>;
  agent(id: string, orchestrator: Orchestrator, extra?: string[], name?: string): Promise<TestProcess>;
  logs(): string;
}

beforeAll(async () => {
  binary = await hostBinary();
  shared = await startOrchestrator({ db: join(dir, "shared.db"), listen: "127.0.0.1:0" });
});

afterAll(async () => {
  await killAll();
  for (const argv of sleeps) for (const pid of pidsOf(argv)) killQuietly(pid);
  rmSync(dir, { recursive: true, force: true });
});

async function startOrchestrator(options: { db: string; listen: string; lease?: string }): Promise<Orchestrator> {
  const { process: orchestrator, url } = await startShared(binary, { ...options, adminToken: ADMIN });
  const admin = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${url}/api/v1${path}`, {
      ...init,
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json", ...init.headers },
    });
    const body = await response.json();
    if (!response.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${JSON.stringify(body)}`);
    return body;
  };
  return { process: orchestrator, url, admin };
}

/** The agent's config: its own id and home, debug logs, and whatever the test adds. */
function actionConfig(id: string, baseUrl: string, extra: string[]): string {
  // Minutes between polls: only the long poll delivers in time.
  return writeAgentConfig(dir, { type: "action", id, baseDir: join(dir, "homes", id), url: baseUrl, extra: ["agent:", "  poll_interval: 10m", ...extra] });
}

const shellConfig = (allowed: string[]) => ["plugins:", "  config:", "    shell-command:", `      allowed_commands: [${allowed.join(", ")}]`];

/**
 * Runs a test body with a scene to start processes in; when the body fails, the error carries the
 * output of every process it started (and of the shared orchestrator).
 */
function scenario(body: (scene: Scene) => Promise<void>): () => Promise<void> {
  return async () => {
    const named: [string, TestProcess][] = [["shared orchestrator", shared.process]];
    const scene: Scene = {
      async orchestrator(options = {}) {
        const started = await startOrchestrator({ db: options.db ?? ":memory:", listen: options.listen ?? "127.0.0.1:0", lease: options.lease });
        named.push([options.name ?? "orchestrator", started.process]);
        return started;
      },
      async agent(id, orchestrator, extra = [], name = id) {
        const agent = startProcess([binary, "action", "-c", actionConfig(id, orchestrator.url, extra)]);
        named.push([name, agent]);
        // The slots' long polls are open from here on.
        await agent.waitFor(/taking instructions in \d+ slots?/);
        return agent;
      },
      logs: () => named.map(([name, started]) => `----- ${name} -----\n${started.output()}`).join("\n"),
    };
    try {
      await body(scene);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`${message}\n\n${scene.logs()}`, { cause: error });
    }
  };
}

async function create(orchestrator: Orchestrator, body: Record<string, unknown>): Promise<string> {
  const created = await orchestrator.admin("/instructions", { method: "POST", body: JSON.stringify({ instruction_type: "execute", max_retries: 0, ...body }) });
  return created.id;
}

/** The instruction once `ready` says so. */
function instructionWhen(orchestrator: Orchestrator, id: string, ready: (instruction: any) => boolean, what: string, timeoutMs = 30_000): Promise<any> {
  return waitUntil(
    async () => {
      const instruction = await orchestrator.admin(`/instructions/${id}`);
      return ready(instruction) ? instruction : undefined;
    },
    `instruction ${id}: ${what}`,
    timeoutMs,
  );
}

const ended = (orchestrator: Orchestrator, id: string, timeoutMs?: number) =>
  instructionWhen(orchestrator, id, (instruction) => FINAL.includes(instruction.status), "a final status", timeoutMs);
const executing = (orchestrator: Orchestrator, id: string) =>
  instructionWhen(orchestrator, id, (instruction) => instruction.status === "executing", "executing");

/** A `sleep` argv no other test (or test run) uses: its process can be found by it in /proc. */
function uniqueSleep(): string[] {
  for (;;) {
    const argv = ["sleep", String(3000 + Math.floor(Math.random() * 6000))];
    if (pidsOf(argv).length === 0 && !sleeps.some((taken) => taken[1] === argv[1])) {
      sleeps.push(argv);
      return argv;
    }
  }
}

/** Processes whose command line is `argv` (the executable compared by name: the plugin runs it by path). */
function pidsOf(argv: string[]): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let raw: string;
    try {
      raw = readFileSync(`/proc/${entry}/cmdline`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    const args = raw.split("\0");
    if (args.at(-1) === "") args.pop();
    if (args.length !== argv.length || basename(args[0] ?? "") !== basename(argv[0]!)) continue;
    if (args.slice(1).every((arg, index) => arg === argv[index + 1])) found.push(Number(entry));
  }
  return found;
}

const running = (argv: string[], what: string) => waitUntil(() => (pidsOf(argv).length > 0 ? true : undefined), `${argv.join(" ")} to run (${what})`, 20_000);
/** Processes die asynchronously after the kill: wait with a deadline rather than look once. */
async function gone(argv: string[], what: string): Promise<void> {
  try {
    await waitUntil(() => (pidsOf(argv).length === 0 ? true : undefined), `no process "${argv.join(" ")}" left (${what})`, 10_000);
  } catch (error) {
    throw new Error(`${(error as Error).message}; still running: pid ${pidsOf(argv).join(", ")}`, { cause: error });
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

describe("stavily action runs instructions", () => {
  test(
    "8 instructions run in parallel in 8 slots: all start before any finishes",
    scenario(async (scene) => {
      await scene.agent("e2e-parallel", shared, ["action:", "  max_concurrent_tasks: 8"]);
      // echo's manifest limit is 5 s; the instruction's timeout replaces it.
      const ids = await Promise.all(
        Array.from({ length: 8 }, (_, n) => create(shared, { agent_id: "e2e-parallel", plugin_id: "echo", input_data: { message: `m${n}`, sleep_ms: 2000 }, timeout_seconds: 30 })),
      );
      const done = await Promise.all(ids.map((id) => ended(shared, id)));

      done.forEach((instruction, n) => {
        expect(instruction.status).toBe("completed");
        expect(instruction.result.message).toBe(`m${n}`);
      });
      const lastStart = Math.max(...done.map((instruction) => Date.parse(instruction.started_at)));
      const firstFinish = Math.min(...done.map((instruction) => Date.parse(instruction.finished_at)));
      expect(lastStart).toBeLessThan(firstFinish);
    }),
    60_000,
  );

  test(
    "a timeout ends `timeout`, and the command is stopped",
    scenario(async (scene) => {
      await scene.agent("e2e-timeout", shared, shellConfig(["sleep"]));
      const argv = uniqueSleep();
      // The instruction's 2 s limit, not the plugin's own (60 s by default), is what ends it.
      const id = await create(shared, { agent_id: "e2e-timeout", plugin_id: "shell-command", input_data: { command: argv }, timeout_seconds: 2 });
      await running(argv, "the instruction with a 2 s timeout");

      const done = await ended(shared, id);
      await gone(argv, "after the timeout");
      expect({ status: done.status, error_details: done.error_details }).toMatchObject({ status: "timeout", error_details: { code: "timeout" } });
    }),
    60_000,
  );

  test(
    "a cancel ends `cancelled`, and the command is stopped",
    scenario(async (scene) => {
      await scene.agent("e2e-cancel", shared, shellConfig(["sleep"]));
      const argv = uniqueSleep();
      const id = await create(shared, { agent_id: "e2e-cancel", plugin_id: "shell-command", input_data: { command: argv }, timeout_seconds: 60 });
      await executing(shared, id);
      await running(argv, "the instruction to cancel");
      await shared.admin(`/instructions/${id}/cancel`, { method: "POST" });

      const done = await ended(shared, id);
      await gone(argv, "after the cancel");
      expect(done.status).toBe("cancelled");
      expect(done.error_message).toBe("cancelled by the orchestrator");
    }),
    60_000,
  );

  test(
    "an instruction delivered again while it runs runs once",
    scenario(async (scene) => {
      // A 1 s lease lapses while the command runs: the orchestrator hands the instruction to another slot.
      const orchestrator = await scene.orchestrator({ lease: "1s", name: "orchestrator (1 s lease)" });
      const agent = await scene.agent("e2e-once", orchestrator, shellConfig(["sh"]));
      const marks = join(dir, "e2e-once.runs");
      const id = await create(orchestrator, {
        agent_id: "e2e-once",
        plugin_id: "shell-command",
        input_data: { command: ["sh", "-c", `echo run >> ${marks}; sleep 3`] },
        timeout_seconds: 30,
      });

      const done = await ended(orchestrator, id);
      expect(done.status).toBe("completed");
      // Redelivery really happened, and the agent knew the instruction was already running.
      expect(done.delivery_count).toBeGreaterThanOrEqual(2);
      expect(agent.output()).toContain("instruction delivered again while it runs");
      expect(readFileSync(marks, "utf8")).toBe("run\n");
    }),
    60_000,
  );

  test(
    "kill -9 under a running instruction, then a restart, reports it failed with agent_restarted",
    scenario(async (scene) => {
      const extra = shellConfig(["sleep"]);
      const agent = await scene.agent("e2e-killed", shared, extra);
      const argv = uniqueSleep();
      const id = await create(shared, { agent_id: "e2e-killed", plugin_id: "shell-command", input_data: { command: argv }, timeout_seconds: 60 });
      await executing(shared, id);
      await running(argv, "before the kill");

      agent.kill("SIGKILL");
      await agent.exited;
      // The command runs in a process group of its own (setsid), so the agent's death does not reach it.
      const survivors = pidsOf(argv);
      console.info(`kill -9 of the agent: "${argv.join(" ")}" ${survivors.length > 0 ? `survived (pid ${survivors.join(", ")}); killing it` : "died with it"}`);
      for (const pid of survivors) killQuietly(pid);
      await gone(argv, "the leftover, killed by the test");

      const restarted = await scene.agent("e2e-killed", shared, extra, "e2e-killed (restarted)");
      const done = await ended(shared, id);
      expect(done.status).toBe("failed");
      expect(done.error_details).toMatchObject({ reason: "agent_restarted", plugin_id: "shell-command" });
      expect(restarted.output()).toContain("instruction cut off by an agent restart");
      // Reported, not run again: shell-command is not idempotent.
      expect(pidsOf(argv)).toEqual([]);
    }),
    60_000,
  );

  test(
    "results due while the orchestrator is down all arrive once it is back",
    scenario(async (scene) => {
      const listen = `127.0.0.1:${freePort()}`;
      const db = join(dir, "restarted.db");
      const first = await scene.orchestrator({ listen, db, name: "orchestrator (first run)" });
      const agent = await scene.agent("e2e-outage", first, ["action:", "  max_concurrent_tasks: 5"]);
      const ids: string[] = [];
      for (let n = 0; n < 5; n++) {
        ids.push(await create(first, { agent_id: "e2e-outage", plugin_id: "echo", input_data: { message: `r${n}`, sleep_ms: 2500 }, timeout_seconds: 30 }));
      }
      for (const id of ids) await executing(first, id);

      first.process.kill("SIGTERM");
      expect(await first.process.exited).toBe(0);
      // Every instruction finished while the orchestrator was down, and its result could not be sent.
      await waitUntil(
        () => (ids.every((id) => new RegExp(`result not delivered; retrying.*${id}`).test(agent.output())) ? true : undefined),
        "a failed result delivery of each instruction",
        30_000,
      );

      const second = await scene.orchestrator({ listen, db, name: "orchestrator (after the restart)" });
      const done = await Promise.all(ids.map((id) => ended(second, id, 60_000)));
      done.forEach((instruction, n) => {
        expect(instruction.status).toBe("completed");
        expect(instruction.result.message).toBe(`r${n}`);
      });
    }),
    120_000,
  );
});
