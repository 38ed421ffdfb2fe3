/**
 * The network between agents and the orchestrator fails: first away altogether for a while, then
 * flapping with every fault the fault proxy knows. Nothing emitted is lost and no effect happens
 * twice: events are counted by their seq in the orchestrator's database, instructions by their
 * final status and by the line each one's shell command appends to an effects file.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOrchestrator, writeAgentConfig } from "../support/agents.ts";
import { hostBinary } from "../support/binary.ts";
import { account, chaosRandom, duplicates, scale, scenarioTimeout } from "../support/chaos.ts";
import { startFaultProxy, type FaultProxy, type FaultRule } from "../support/fault-proxy.ts";
import { freePort, killAll, startProcess, waitUntil, type TestProcess } from "../support/process.ts";

const ADMIN = "chaos-network-admin-token-0123";
const PLUGINS = join(import.meta.dir, "..", "e2e", "fixtures", "plugins");
/** Short enough that an instruction whose delivery was lost on the wire comes back soon. */
const LEASE = "3s";
const dir = mkdtempSync(join(tmpdir(), "stavily-chaos-network-"));
let binary: string;
const random = chaosRandom();

beforeAll(async () => {
  console.info(`chaos network seed ${random.seed} (replay with STAVILY_CHAOS_SEED=${random.seed})`);
  binary = await hostBinary();
});
afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

interface Orchestrator {
  process: TestProcess;
  url: string;
  db: string;
}

async function orchestrator(name: string, port = 0): Promise<Orchestrator> {
  const db = join(dir, `${name}.db`);
  const started = await startOrchestrator(binary, { db, listen: `127.0.0.1:${port}`, adminToken: ADMIN, lease: LEASE });
  return { ...started, db };
}

/**
 * Agents give up on a held request after a few seconds and retry from 100 ms, so faults cost little
 * time; the default 10 requests a second would make the rates here queue behind the rate limiter.
 */
const API = ["api:", "  timeout: 3s", "  retry_delay: 100ms", "  rate_limit_rps: 200"];

function sensor(id: string, url: string, burst: { total: number; perRun: number; interval: string }): TestProcess {
  const config = writeAgentConfig(dir, {
    type: "sensor",
    id,
    baseDir: join(dir, "homes"),
    url,
    extra: [
      ...API,
      "agent:",
      "  poll_interval: 10m",
      "plugins:",
      `  directory: ${PLUGINS}`,
      "sensor:",
      "  batch_size: 100",
      "  flush_interval: 200ms",
      "  event_buffer_size: 1000000",
      "  triggers:",
      "    - plugin: burst",
      `      interval: ${burst.interval}`,
      `      config: { per_run: ${burst.perRun}, total: ${burst.total} }`,
    ],
  });
  return startProcess([binary, "sensor", "-c", config]);
}

function actionAgent(id: string, url: string, slots: number): TestProcess {
  const config = writeAgentConfig(dir, {
    type: "action",
    id,
    baseDir: join(dir, "homes"),
    url,
    extra: [...API, "agent:", "  poll_interval: 10m", "action:", `  max_concurrent_tasks: ${slots}`, "plugins:", "  config:", "    shell-command:", "      allowed_commands: [sh]"],
  });
  return startProcess([binary, "action", "-c", config]);
}

/** Instruction `seq` appends its number to `effects` (its one observable effect), then sleeps. */
async function createInstruction(url: string, agentId: string, seq: number, effects: string, sleepSeconds = 0): Promise<string> {
  const response = await fetch(`${url}/api/v1/instructions`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json", "idempotency-key": `${agentId}-${seq}` },
    body: JSON.stringify({
      agent_id: agentId,
      plugin_id: "shell-command",
      instruction_type: "execute",
      input_data: { command: ["sh", "-c", `echo ${seq} >> ${effects}${sleepSeconds > 0 ? `; sleep ${sleepSeconds}` : ""}`] },
      timeout_seconds: 60,
      max_retries: 0,
    }),
  });
  const body = (await response.json()) as { id: string };
  if (!response.ok) throw new Error(`create instruction ${seq}: ${response.status} ${JSON.stringify(body)}`);
  return body.id;
}

/** Read-only, beside the running orchestrator (WAL readers do not block it). */
function query<T>(db: string, sql: string, ...params: string[]): T[] {
  const handle = new Database(db, { readonly: true });
  try {
    return handle.query<T, string[]>(sql).all(...params);
  } finally {
    handle.close();
  }
}

const storedSeqs = (db: string, agentId: string) =>
  query<{ seq: number }>(db, "SELECT json_extract(body, '$.data.seq') AS seq FROM events WHERE agent_id = ?", agentId).map((row) => row.seq);
const statuses = (db: string, agentId: string) =>
  new Map(query<{ id: string; status: string }>(db, "SELECT id, status FROM instructions WHERE agent_id = ?", agentId).map((row) => [row.id, row.status]));
const effectLines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean).map(Number) : []);

/** Waits until every event 1..total is stored, then accounts them. */
async function accountEvents(scenario: string, db: string, agentId: string, total: number, timeoutMs: number, extra: Record<string, number | string> = {}) {
  const started = Date.now();
  await waitUntil(() => (new Set(storedSeqs(db, agentId)).size >= total ? true : undefined), `${total} events of ${agentId} stored`, timeoutMs).catch(() => {});
  const seqs = storedSeqs(db, agentId);
  const delivered = new Set(seqs.filter((seq) => seq >= 1 && seq <= total)).size;
  account(`${scenario}:events`, { emitted: total, delivered, duplicated: duplicates(seqs), extra: { ...extra, drain_s: seconds(started) } });
}

/** Waits until every instruction has a final status, then accounts results and effects. */
async function accountInstructions(scenario: string, db: string, agentId: string, ids: Map<string, number>, effects: string, timeoutMs: number, extra: Record<string, number | string> = {}) {
  const started = Date.now();
  const done = () => [...statuses(db, agentId)].filter(([id, status]) => ids.has(id) && status === "completed").length;
  await waitUntil(() => (done() >= ids.size ? true : undefined), `${ids.size} instructions of ${agentId} completed`, timeoutMs).catch(() => {});
  const state = statuses(db, agentId);
  const lines = effectLines(effects);
  const ran = new Set(lines);
  const delivered = [...ids].filter(([id, seq]) => state.get(id) === "completed" && ran.has(seq)).length;
  const notDone = [...ids.keys()].filter((id) => state.get(id) !== "completed").map((id) => `${id}=${state.get(id)}`);
  if (notDone.length > 0) console.info(`${scenario}: not completed: ${notDone.slice(0, 20).join(", ")}`);
  account(`${scenario}:instructions`, { emitted: ids.size, delivered, duplicated: duplicates(lines), extra: { ...extra, drain_s: seconds(started) } });
}

const seconds = (since: number) => ((Date.now() - since) / 1000).toFixed(1);

/** Runs `body`; when it fails, the error carries what each process said. */
async function withLogs(processes: () => Record<string, TestProcess | undefined>, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    const logs = Object.entries(processes())
      .filter(([, started]) => started)
      .map(([name, started]) => `----- ${name} -----\n${started!.output().slice(-20_000)}`)
      .join("\n");
    throw new Error(`${(error as Error).message}\n\n${logs}`, { cause: error });
  }
}

const OUTAGE_MS = scale({ short: 5_000, full: 60_000 });
const FLAPPING_MS = scale({ short: 20_000, full: 180_000 });
/** How long the instructions running when the orchestrator goes away take: they end during the outage. */
const RUN_THROUGH_S = Math.ceil(OUTAGE_MS / 2000) + 1;

describe("chaos: the network", () => {
  test(
    "orchestrator-down: unreachable behind a blackhole, then stopped (kill -9) and restarted",
    async () => {
      await Promise.all([outageBehindProxy(), outageByRestart()]);
    },
    scenarioTimeout(OUTAGE_MS),
  );

  test("flapping-network: random faults of every kind at high event and instruction rates, then a clean network", flapping, scenarioTimeout(FLAPPING_MS));
});

/**
 * The sensor and the action agent reach the orchestrator through the proxy, which blackholes
 * everything (and cuts what it holds) for the outage. Events keep being emitted, instructions keep
 * being created (directly at the orchestrator), and two instructions run through the cut.
 */
async function outageBehindProxy(): Promise<void> {
  const orch = await orchestrator("down-proxy");
  const proxy = startFaultProxy({ upstream: orch.url, random: random.next });
  const effects = join(dir, "down-proxy.effects");
  const total = scale({ short: 1_500, full: 6_000 });
  let sensorProcess: TestProcess | undefined;
  let agent: TestProcess | undefined;
  await withLogs(
    () => ({ orchestrator: orch.process, sensor: sensorProcess, action: agent }),
    async () => {
      agent = actionAgent("down-proxy-action", proxy.url, 2);
      await agent.waitFor(/taking instructions in \d+ slots/, 30_000);
      const ids = new Map<string, number>();
      let seq = 0;
      const add = async (sleepSeconds = 0) => ids.set(await createInstruction(orch.url, "down-proxy-action", ++seq, effects, sleepSeconds), seq);
      // Emitted over about as long as the outage lasts.
      sensorProcess = sensor("down-proxy-sensor", proxy.url, { total, perRun: 50, interval: `${Math.round((OUTAGE_MS * 50) / total)}ms` });
      await waitUntil(() => (storedSeqs(orch.db, "down-proxy-sensor").length > 0 ? true : undefined), "the first events stored", 30_000);
      // Two that are running when the network goes: they end during the outage, their results wait.
      await add(RUN_THROUGH_S);
      await add(RUN_THROUGH_S);
      await waitUntil(() => (effectLines(effects).length >= 2 ? true : undefined), "the first two instructions running", 30_000);

      proxy.setRules([{ fault: "blackhole" }]);
      proxy.severAll();
      const away = Date.now();
      // Queued meanwhile, directly at the orchestrator.
      const during = scale({ short: 10, full: 60 });
      for (let n = 0; n < during; n++) {
        await add();
        await Bun.sleep(OUTAGE_MS / during / 2);
      }
      await Bun.sleep(Math.max(0, OUTAGE_MS - (Date.now() - away)));
      const held = proxy.counts().blackhole;
      const waiting = total - new Set(storedSeqs(orch.db, "down-proxy-sensor")).size;
      const reported = [...statuses(orch.db, "down-proxy-action").values()].filter((status) => status === "completed").length;
      proxy.setRules([]);
      // A network that comes back does not answer the requests it swallowed: their connections are gone.
      proxy.severAll();

      const drainMs = scale({ short: 60_000, full: 150_000 });
      // The outage mattered: events emitted meanwhile, and every result, waited for it to end.
      expect({ waiting: waiting > 0, reported }).toEqual({ waiting: true, reported: 0 });
      const extra = { outage_s: OUTAGE_MS / 1000, blackholed: held, events_waiting: waiting };
      await accountEvents("orchestrator-down/proxy", orch.db, "down-proxy-sensor", total, drainMs, extra);
      await accountInstructions("orchestrator-down/proxy", orch.db, "down-proxy-action", ids, effects, drainMs, extra);
    },
  ).finally(() => {
    proxy.stop();
    for (const started of [sensorProcess, agent, orch.process]) started?.kill("SIGKILL");
  });
}

/**
 * The sensor and the action agent talk to the orchestrator directly; it is killed (-9) while
 * instructions run and more wait, and started again on the same address and database.
 */
async function outageByRestart(): Promise<void> {
  const port = freePort();
  const first = await orchestrator("down-restart", port);
  let orch = first;
  const effects = join(dir, "down-restart.effects");
  const total = scale({ short: 1_500, full: 6_000 });
  let sensorProcess: TestProcess | undefined;
  let agent: TestProcess | undefined;
  let restarted: TestProcess | undefined;
  await withLogs(
    () => ({ "orchestrator (first run)": first.process, "orchestrator (restarted)": restarted, sensor: sensorProcess, action: agent }),
    async () => {
      agent = actionAgent("down-restart-action", orch.url, 2);
      await agent.waitFor(/taking instructions in \d+ slots/, 30_000);
      sensorProcess = sensor("down-restart-sensor", orch.url, { total, perRun: 50, interval: `${Math.round((OUTAGE_MS * 50) / total)}ms` });
      await waitUntil(() => (storedSeqs(orch.db, "down-restart-sensor").length > 0 ? true : undefined), "the first events stored", 30_000);
      const ids = new Map<string, number>();
      // Two slots: two running through the kill (ending during the outage), the rest queued behind them.
      const queued = scale({ short: 12, full: 60 });
      for (let seq = 1; seq <= queued; seq++) ids.set(await createInstruction(orch.url, "down-restart-action", seq, effects, seq <= 2 ? RUN_THROUGH_S : 0), seq);
      await waitUntil(() => (effectLines(effects).length >= 2 ? true : undefined), "two instructions running", 30_000);

      orch.process.kill("SIGKILL");
      await orch.process.exited;
      await Bun.sleep(OUTAGE_MS);
      const waiting = total - new Set(storedSeqs(orch.db, "down-restart-sensor")).size;
      const reported = [...statuses(orch.db, "down-restart-action").values()].filter((status) => status === "completed").length;
      expect({ waiting: waiting > 0, reported }).toEqual({ waiting: true, reported: 0 });
      orch = await orchestrator("down-restart", port);
      restarted = orch.process;

      const drainMs = scale({ short: 60_000, full: 150_000 });
      const extra = { outage_s: OUTAGE_MS / 1000, events_waiting: waiting };
      await accountEvents("orchestrator-down/restart", orch.db, "down-restart-sensor", total, drainMs, extra);
      await accountInstructions("orchestrator-down/restart", orch.db, "down-restart-action", ids, effects, drainMs, extra);
    },
  ).finally(() => {
    for (const started of [sensorProcess, agent, orch.process]) started?.kill("SIGKILL");
  });
}

/** Every fault, each with a small chance; together roughly four requests in ten go wrong. */
const MIX: FaultRule[] = [
  { fault: "latency", probability: 0.06, delayMs: 800 },
  { fault: "close", probability: 0.03 },
  { fault: "close", probability: 0.03, upstream: true },
  { fault: "reset", probability: 0.03 },
  { fault: "reset", probability: 0.03, upstream: true },
  { fault: "blackhole", probability: 0.02 },
  { fault: "blackhole", probability: 0.02, upstream: true },
  { fault: "status", probability: 0.03, status: 503 },
  { fault: "status", probability: 0.02, status: 500 },
  { fault: "throttle", probability: 0.03, retryAfter: 1 },
  { fault: "truncate", probability: 0.03 },
  { fault: "malformed", probability: 0.03 },
  { fault: "trickle", probability: 0.02, chunkBytes: 32, intervalMs: 50 },
  { fault: "refuse", probability: 0.05 },
];

async function flapping(): Promise<void> {
  const orch = await orchestrator("flapping");
  const proxy = startFaultProxy({ upstream: orch.url, random: random.next });
  const effects = join(dir, "flapping.effects");
  const rate = 500; // events a second
  const total = Math.round((rate * FLAPPING_MS) / 1000);
  let sensorProcess: TestProcess | undefined;
  let agent: TestProcess | undefined;
  await withLogs(
    () => ({ orchestrator: orch.process, sensor: sensorProcess, action: agent }),
    async () => {
      agent = actionAgent("flapping-action", proxy.url, 4);
      await agent.waitFor(/taking instructions in \d+ slots/, 30_000);
      sensorProcess = sensor("flapping-sensor", proxy.url, { total, perRun: 50, interval: "100ms" });
      await sensorProcess.waitFor(/running 1 triggers/, 30_000);

      const ids = new Map<string, number>();
      const phases = { down: 0, faulty: 0, clean: 0 };
      const end = Date.now() + FLAPPING_MS;
      // Phases of 0.5–3 s: mostly faulty, sometimes down altogether, sometimes clean.
      const network = (async () => {
        while (Date.now() < end) {
          const draw = random.next();
          const phase = draw < 0.2 ? "down" : draw < 0.85 ? "faulty" : "clean";
          phases[phase]++;
          proxy.setRules(phase === "down" ? [{ fault: "refuse" }, { fault: "reset" }] : phase === "faulty" ? MIX : []);
          if (phase === "down") proxy.severAll();
          await Bun.sleep(Math.min(random.int(500, 3_000), Math.max(0, end - Date.now())));
        }
      })();
      // About ten instructions a second, created directly at the orchestrator.
      let seq = 0;
      while (Date.now() < end) {
        ids.set(await createInstruction(orch.url, "flapping-action", ++seq, effects), seq);
        await Bun.sleep(100);
      }
      await network;
      proxy.setRules([]);
      proxy.severAll();

      const counts = proxy.counts();
      const faults = Object.entries(counts).filter(([kind]) => kind !== "pass").reduce((sum, [, n]) => sum + n, 0);
      console.info(`flapping-network: phases ${JSON.stringify(phases)}; proxy ${JSON.stringify(counts)}`);
      // Which kinds came up is the seed's business (the proxy's own test proves each works); that many did is the scenario's.
      expect(faults).toBeGreaterThan(scale({ short: 50, full: 500 }));
      const drainMs = scale({ short: 60_000, full: 150_000 });
      const extra = { faults, requests: faults + counts.pass };
      await accountEvents("flapping-network", orch.db, "flapping-sensor", total, drainMs, extra);
      await accountInstructions("flapping-network", orch.db, "flapping-action", ids, effects, drainMs, extra);
    },
  ).finally(() => {
    proxy.stop();
    for (const started of [sensorProcess, agent, orch.process]) started?.kill("SIGKILL");
  });
}
