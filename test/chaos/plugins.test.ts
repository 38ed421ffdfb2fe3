/**
 * Plugins misbehaving at rate, with the compiled binary: `stavily action` at each sandbox level
 * takes a random mix of instructions through `stavily orchestrator` — well-behaved ones for the
 * `steady` plugin, and for copies of `misbehave` runs that crash, exit, hang, print garbage, flood
 * their log, blow up their memory or start a fork storm. The agent never dies (same pid, /health
 * answering), every instruction gets exactly one final result with a clear reason, the well-behaved
 * ones all complete, no plugin process is left behind, and the agent's memory stays bounded.
 *
 * Quarantine (more than 5 ends of one instance in 10 min) is accounted, not avoided: the misbehaving
 * runs are spread over several copies of `misbehave` (ids misbehave-0…), so misbehaviour goes on at
 * rate while copies one by one get quarantined; an instruction for a quarantined copy fails at once
 * with code `quarantined` — still its one final result. The `steady` plugin is never quarantined.
 *
 * The sensor side: `unruly` triggers crashing, exiting, hanging, throwing, flooding and returning
 * garbage run after run beside a `tally` trigger whose numbered events must all arrive exactly once.
 *
 * Either agent, stopped with SIGTERM afterwards, exits 0 within its shutdown grace (5 s), whatever its
 * plugins did, and leaves no process of theirs behind.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOrchestrator, writeAgentConfig, type Orchestrator } from "../support/agents.ts";
import { hostBinary } from "../support/binary.ts";
import { account, chaosRandom, duplicates, scale, scenarioTimeout } from "../support/chaos.ts";
import { killAll, startProcess, waitUntil, type TestProcess } from "../support/process.ts";

const ADMIN = "plugins-chaos-admin-token-0123";
const FIXTURES = join(import.meta.dir, "fixtures", "plugins");
const FINAL = ["completed", "failed", "timeout", "cancelled"];
/** Level strict needs bubblewrap (CI installs it); STAVILY_TEST_NO_BWRAP=1 leaves it out, as the unit tests do. */
const LEVELS = process.env.STAVILY_TEST_NO_BWRAP === "1" ? (["worker", "process"] as const) : (["worker", "process", "strict"] as const);
type Level = "worker" | "process" | "strict";

const INSTRUCTIONS = scale({ short: 30, full: 400 });
const COPIES = scale({ short: 4, full: 16 });
const SLOTS = 4;
const random = chaosRandom();
/** The fork storms' children are `sleep <marker>`, one marker per level: found by it in /proc, and by nothing else. */
const MARKER_BASE = `86400.${random.int(100_000, 999_999)}`;
const marker = (level: Level) => `${MARKER_BASE}${["worker", "process", "strict"].indexOf(level)}`;

const dir = mkdtempSync(join(tmpdir(), "stavily-chaos-plugins-"));
const plugins = join(dir, "plugins");
let binary: string;
let orchestrator: Orchestrator;

beforeAll(async () => {
  console.log(`chaos[plugins] seed ${random.seed} (STAVILY_CHAOS_SEED replays it)`);
  binary = await hostBinary();
  orchestrator = await startOrchestrator(binary, { db: join(dir, "orchestrator.db"), adminToken: ADMIN });
  // One plugins directory for every agent: the fixtures, and COPIES copies of misbehave under their own ids.
  for (const id of ["steady", "tally", "unruly"]) cpSync(join(FIXTURES, id), join(plugins, id), { recursive: true });
  for (let n = 0; n < COPIES; n++) {
    const target = join(plugins, `misbehave-${n}`);
    cpSync(join(FIXTURES, "misbehave"), target, { recursive: true });
    const manifest = join(target, "plugin.yaml");
    writeFileSync(manifest, readFileSync(manifest, "utf8").replace("id: misbehave", `id: misbehave-${n}`));
  }
});

afterAll(async () => {
  await killAll();
  for (const pid of pidsWith(MARKER_BASE)) killQuietly(pid);
  rmSync(dir, { recursive: true, force: true });
});

async function admin(path: string, init: RequestInit = {}): Promise<any> {
  const response = await fetch(`${orchestrator.url}/api/v1${path}`, {
    ...init,
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json", ...init.headers },
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

// ---------------------------------------------------------------------------------------------
// What one instruction asks for, and what it may end as

const MISBEHAVIOUR = ["throw", "crash", "exit", "exit-early", "hang-busy", "hang-promise", "garbage", "flood", "memory", "fork-storm"] as const;
type Mode = "ok" | (typeof MISBEHAVIOUR)[number];

interface Planned {
  id: string;
  plugin: string;
  mode: Mode;
  token: string;
  input: Record<string, unknown>;
}

/**
 * The codes each mode ends with when it is the one misbehaving. Any instruction may also end as the
 * collateral of another on the same copy: the copy quarantined (fails at once), restarting past the
 * instruction's limit, or killed while this call waited its turn behind a hang.
 */
const EXPECTED: Record<Mode, string[]> = {
  ok: ["completed"],
  flood: ["completed"],
  throw: ["plugin_error"],
  crash: ["crashed"],
  exit: ["crashed"],
  "exit-early": ["crashed"],
  "hang-busy": ["timeout"],
  "hang-promise": ["timeout"],
  garbage: ["invalid_output"],
  // At level worker a paced blow-up may reach its 1 s limit before the once-a-second heap check.
  memory: ["crashed", "memory_limit", "timeout"],
  "fork-storm": ["crashed", "timeout"],
};
const COLLATERAL = ["quarantined", "unavailable", "killed", "timeout", "crashed", "memory_limit", "invalid_output"];

/** Every level's mix, drawn up front in one order, so a seed replays the same mixes however the tests interleave. */
const PLANS = Object.fromEntries(LEVELS.map((level) => [level, Array.from({ length: INSTRUCTIONS }, (_, n) => plan(level, n))])) as Record<Level, Planned[]>;

function plan(level: Level, n: number): Planned {
  const token = `t-${level}-${n}`;
  // A third are well-behaved instructions for steady; the rest go to a random copy of misbehave, one in
  // ten of them well-behaved too (it completes unless the copy is quarantined or a neighbour's end takes it).
  const roll = random.next();
  if (roll < 0.33) return { id: "", plugin: "steady", mode: "ok", token, input: { token } };
  const plugin = `misbehave-${random.int(0, COPIES - 1)}`;
  const mode: Mode = roll < 0.4 ? "ok" : MISBEHAVIOUR[random.int(0, MISBEHAVIOUR.length - 1)]!;
  const input: Record<string, unknown> = { mode, token };
  // Plugin code writing to fd 1 at level worker writes to the agent's own stdout: not a plugin fault to test there.
  if (mode === "garbage") input.raw_stdout = level !== "worker";
  // At level worker the heap is the agent's: it grows at a pace the once-a-second heap check can catch.
  if (mode === "memory") input.pace_ms = level === "worker" ? 100 : 0;
  if (mode === "fork-storm") {
    Object.assign(input, { marker: marker(level), children: 10, then: (["hang", "exit", "busy"] as const)[random.int(0, 2)], raw: level !== "worker" });
  }
  return { id: "", plugin, mode, token, input };
}

/** The code an instruction ended with: `completed`, `timeout`, or its error code. */
function codeOf(instruction: any): string {
  if (!instruction) return "no final result";
  if (instruction.status === "completed" || instruction.status === "timeout") return instruction.status;
  return String(instruction.error_details?.code ?? instruction.error_details?.reason ?? "none");
}

// ---------------------------------------------------------------------------------------------
// The machine: processes, their groups, the agent's memory

function processes(): Array<{ pid: number; pgid: number; cmdline: string }> {
  const found: Array<{ pid: number; pgid: number; cmdline: string }> = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z") continue; // a zombie is dead already, waiting to be reaped
      found.push({ pid: Number(entry), pgid: Number(fields[2]), cmdline: readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ") });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

const pidsWith = (text: string) => processes().filter((p) => p.cmdline.includes(text)).map((p) => p.pid);

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

function rssMiB(pid: number): number {
  const kib = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  return Math.round(kib / 1024);
}

/** Every plugin process the agent started, from its plugin logs ("started pid N"): each led a process group. */
function pluginPids(home: string): number[] {
  const logs = join(home, "logs", "plugins");
  if (!existsSync(logs)) return [];
  const pids: number[] = [];
  for (const file of readdirSync(logs)) {
    for (const match of readFileSync(join(logs, file), "utf8").matchAll(/started pid (\d+)/g)) pids.push(Number(match[1]));
  }
  return pids;
}

/** How often each instruction ran, from the `runs.log` each plugin instance appends to in its work dir. */
function runsOf(home: string): string[] {
  const runs: string[] = [];
  const walk = (path: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name === "runs.log") runs.push(...readFileSync(full, "utf8").split("\n").filter(Boolean));
    }
  };
  walk(home);
  return runs;
}

/**
 * Processes left alive: the fork-storm children of a level (by its marker) and, once an agent has
 * stopped, anything in the process group of a plugin process it started.
 */
function leftovers(storms: Level | undefined, home?: string): Array<{ pid: number; pgid: number; cmdline: string }> {
  const groups = new Set(home ? pluginPids(home) : []);
  return processes().filter((p) => (storms !== undefined && p.cmdline.includes(marker(storms))) || groups.has(p.pgid));
}
const describeProcesses = (list: ReturnType<typeof leftovers>) => list.map((p) => `${p.pid} (group ${p.pgid}) ${p.cmdline.slice(0, 120)}`).join("; ");

// ---------------------------------------------------------------------------------------------
// The agents, and the action side

interface Agent {
  process: TestProcess;
  home: string;
  health: string;
}

async function startAgent(id: string, level: Level, type: "action" | "sensor", extra: Record<string, unknown>): Promise<Agent> {
  const config = writeAgentConfig(dir, {
    type,
    id,
    baseDir: join(dir, "agents"),
    url: orchestrator.url,
    extra: {
      agent: { poll_interval: "10m" },
      logging: { level: "info", format: "json" },
      plugins: { directory: plugins },
      security: { sandbox: { level } },
      ...extra,
    },
  });
  const agent = startProcess([binary, type, "-c", config]);
  const health = (await agent.waitFor(/health server listening on (http:\/\/[\d.:]+)/))[1]!;
  return { process: agent, home: join(dir, "agents", `agent-${id}`), health };
}

/** How many times the agent logged each instruction's end ("instruction completed", …): once each. */
function finishedLines(agent: TestProcess): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of agent.output().split("\n")) {
    if (!line.startsWith("{")) continue;
    let entry: any;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    const message = String(entry.msg ?? entry.message ?? "");
    if (/^instruction (completed|failed|timeout|cancelled)$/.test(message) && entry.instruction_id) {
      counts.set(entry.instruction_id, (counts.get(entry.instruction_id) ?? 0) + 1);
    }
  }
  return counts;
}

/** Still the process the test started (never restarted: its pid lives on), answering /health. */
async function healthy(agent: Agent): Promise<void> {
  expect(agent.process.proc.exitCode).toBeNull();
  expect(existsSync(`/proc/${agent.process.proc.pid}`)).toBe(true);
  expect((await fetch(`${agent.health}/health`)).status).toBe(200);
}

/** SIGTERM: exit 0 within the shutdown grace (5 s, agents.ts) and a margin, not when some plugin timer fires. */
async function stopsPromptly(agent: Agent): Promise<void> {
  const stopping = Date.now();
  agent.process.kill("SIGTERM");
  expect(await agent.process.exited).toBe(0);
  expect(Date.now() - stopping).toBeLessThan(10_000);
}

/** A misbehaving run costs up to 1 s (plus the grace period and a restart); a check after the storm gets time for a restart. */
async function create(agentId: string, planned: Planned, timeoutSeconds = 1): Promise<string> {
  const created = await admin("/instructions", {
    method: "POST",
    body: JSON.stringify({ instruction_type: "execute", agent_id: agentId, plugin_id: planned.plugin, input_data: planned.input, timeout_seconds: timeoutSeconds, max_retries: 0 }),
  });
  return created.id;
}

/**
 * The instructions among `ids` that have ended, once all have or at the deadline (the accounting counts
 * what is missing). `meanwhile` runs about once a second while they are awaited.
 */
async function finals(agentId: string, ids: string[], timeoutMs: number, meanwhile?: () => Promise<void>): Promise<Map<string, any>> {
  const wanted = new Set(ids);
  const deadline = Date.now() + timeoutMs;
  for (let poll = 0; ; poll++) {
    const { instructions } = await admin(`/instructions?agent_id=${agentId}&limit=1000`);
    const done = new Map<string, any>();
    for (const instruction of instructions) if (wanted.has(instruction.id) && FINAL.includes(instruction.status)) done.set(instruction.id, instruction);
    if (done.size === wanted.size || Date.now() > deadline) return done;
    if (meanwhile && poll % 10 === 0) await meanwhile();
    await Bun.sleep(100);
  }
}

describe.concurrent.each(LEVELS)("level %s: an action agent under misbehaving plugins", (level) => {
  test(
    `${INSTRUCTIONS} instructions, a random mix of good and misbehaving: each ends once, the good ones complete, nothing is left behind`,
    async () => {
      const agentId = `chaos-plugins-${level}`;
      const agent = await startAgent(agentId, level, "action", { action: { max_concurrent_tasks: SLOTS, cancel_grace_period: "300ms" } });
      const pid = agent.process.proc.pid;
      try {
        await agent.process.waitFor(/taking instructions in \d+ slots?/);
        // A first good instruction warms the agent up (the steady plugin started) before RSS is read.
        const warm: Planned = { id: "", plugin: "steady", mode: "ok", token: "warm", input: { token: "warm" } };
        warm.id = await create(agentId, warm, 10);
        expect((await finals(agentId, [warm.id], 30_000)).get(warm.id).status).toBe("completed");
        const rssBefore = rssMiB(pid);

        const planned = PLANS[level];
        for (const next of planned) next.id = await create(agentId, next);
        // The agent answers its health probe all through the storm.
        const done = await finals(agentId, planned.map((p) => p.id), scale({ short: 90_000, full: 900_000 }), () => healthy(agent));
        await healthy(agent);

        // Each copy once more with a good instruction: it completes unless the copy is quarantined.
        const quarantined = new Set<string>();
        for (const p of planned) if (codeOf(done.get(p.id)) === "quarantined") quarantined.add(p.plugin);
        const after = Array.from({ length: COPIES }, (_, n) => ({ id: "", plugin: `misbehave-${n}`, mode: "ok" as Mode, token: `after-${n}`, input: { mode: "ok", token: `after-${n}` } }));
        for (const p of after) p.id = await create(agentId, p, 10);
        const afterDone = await finals(agentId, after.map((p) => p.id), 60_000);

        // What each instruction ended as, by mode.
        const table = new Map<string, number>();
        let collateral = 0;
        const problems: string[] = [];
        for (const p of planned) {
          const instruction = done.get(p.id);
          const code = codeOf(instruction);
          if (!instruction) {
            problems.push(`${p.mode} ${p.id} on ${p.plugin}: no final result`);
            continue;
          }
          const row = `${p.plugin === "steady" ? "steady" : p.mode} → ${code}`;
          table.set(row, (table.get(row) ?? 0) + 1);
          if (p.plugin === "steady") {
            if (instruction.status !== "completed" || instruction.result?.token !== p.token) problems.push(`steady ${p.id}: ${JSON.stringify(instruction)}`);
            continue;
          }
          if (instruction.status === "completed" && !EXPECTED[p.mode].includes("completed")) problems.push(`${p.mode} ${p.id} completed`);
          if (instruction.status === "completed" && instruction.result?.token !== p.token) problems.push(`${p.mode} ${p.id}: result of another instruction: ${JSON.stringify(instruction.result)}`);
          if (instruction.status !== "completed" && !instruction.error_message) problems.push(`${p.mode} ${p.id}: ${instruction.status} without a reason`);
          if (!EXPECTED[p.mode].includes(code)) {
            if (COLLATERAL.includes(code)) collateral++;
            else problems.push(`${p.mode} ${p.id} on ${p.plugin}: ${instruction.status} ${code}: ${instruction.error_message}`);
          }
        }
        for (const p of after) {
          const instruction = afterDone.get(p.id);
          if (!instruction) {
            problems.push(`after the storm, ${p.plugin}: no final result`);
            continue;
          }
          const expected = quarantined.has(p.plugin) ? "quarantined" : "completed";
          // A copy quarantined by the very last of its ends is only seen quarantined now.
          if (codeOf(instruction) === "quarantined") quarantined.add(p.plugin);
          else if (codeOf(instruction) !== expected) problems.push(`after the storm, ${p.plugin} (${expected} expected): ${instruction.status} ${codeOf(instruction)}: ${instruction.error_message}`);
        }
        console.log(`chaos[plugins-${level}] outcomes: ${[...table].sort().map(([key, count]) => `${key} ×${count}`).join(", ")}`);

        // Fork storms' children die with the instance that started them; the agent has not grown without bound.
        const rssAfter = rssMiB(pid);
        let aliveMidway: ReturnType<typeof leftovers> = [];
        try {
          await waitUntil(() => ((aliveMidway = leftovers(level)).length === 0 ? true : undefined), "no fork-storm child left while the agent runs", 10_000);
        } catch {
          problems.push(`left behind while the agent runs: ${aliveMidway.length}: ${describeProcesses(aliveMidway)}`);
        }
        await stopsPromptly(agent);
        let remaining: ReturnType<typeof leftovers> = [];
        try {
          await waitUntil(() => ((remaining = leftovers(level, agent.home)).length === 0 ? true : undefined), "no plugin process left after the agent stopped", 10_000);
        } catch {
          problems.push(`left behind after the agent stopped: ${remaining.length}: ${describeProcesses(remaining)}`);
        }

        const all = [warm, ...planned, ...after];
        const finished = finishedLines(agent.process);
        const reported = all.reduce((sum, p) => sum + Math.max(0, (finished.get(p.id) ?? 0) - 1), 0);
        const runs = runsOf(agent.home);
        account(`plugins-${level}`, {
          emitted: all.length,
          delivered: 1 + done.size + afterDone.size,
          duplicated: duplicates(runs) + reported,
          extra: {
            completed: [...done.values(), ...afterDone.values()].filter((i) => i.status === "completed").length,
            misbehaving: planned.filter((p) => p.mode !== "ok").length,
            collateral,
            quarantined: `${quarantined.size}/${COPIES} copies`,
            plugin_processes: pluginPids(agent.home).length,
            leftovers: aliveMidway.length + remaining.length,
            rss_before_mib: rssBefore,
            rss_after_mib: rssAfter,
          },
        });
        expect(problems).toEqual([]);
        // Bounded: the agent's own memory, whatever its plugins did (at level worker their heaps were inside it).
        expect(rssAfter).toBeLessThan(rssBefore + 512);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw new Error(`${message}\n\n----- agent ${agentId} (last 40 lines) -----\n${agent.process.output().split("\n").slice(-40).join("\n")}`, { cause: error });
      } finally {
        agent.process.kill("SIGKILL");
      }
    },
    scenarioTimeout(scale({ short: 30_000, full: 600_000 })),
  );
});

// ---------------------------------------------------------------------------------------------
// The sensor side

const TALLY = scale({ short: 300, full: 1000 });
/** Each its own instance, so each its own crash record: one quarantined leaves the others misbehaving. */
const UNRULY = Array.from({ length: scale({ short: 3, full: 6 }) }, (_, n) => `unruly-${n}`);

async function storedEvents(agentId: string, type: string): Promise<Array<{ id: string; data: { seq: number } }>> {
  const response = await fetch(`${orchestrator.url}/api/v1/events?agent_id=${agentId}&type=${type}&limit=1000`, { headers: { authorization: `Bearer ${ADMIN}` } });
  if (!response.ok) throw new Error(`events: ${response.status}`);
  return ((await response.json()) as { events: Array<{ id: string; data: { seq: number } }> }).events;
}

describe.concurrent.each(LEVELS)("level %s: a sensor whose triggers misbehave", (level) => {
  test(
    `${UNRULY.length} unruly triggers crash, exit, hang, throw and flood while tally's ${TALLY} events all arrive exactly once`,
    async () => {
      const agentId = `chaos-plugins-sensor-${level}`;
      const triggers = [
        { plugin: "tally", interval: "100ms", config: { per_run: 5, total: TALLY } },
        ...UNRULY.map((id) => ({ plugin: "unruly", id, interval: "100ms" })),
      ];
      const agent = await startAgent(agentId, level, "sensor", {
        api: { retry_delay: "100ms" },
        sensor: { batch_size: 100, flush_interval: "200ms", triggers },
        // The grace period between a hung run's abort and its kill (the agents share one setting).
        action: { cancel_grace_period: "300ms" },
      });
      let events: Awaited<ReturnType<typeof storedEvents>> = [];
      try {
        const deadline = Date.now() + scale({ short: 40_000, full: 120_000 });
        let checked = 0;
        for (;;) {
          events = await storedEvents(agentId, "tally.tick");
          if (new Set(events.map((event) => event.data.seq)).size >= TALLY || Date.now() > deadline) break;
          // The agent answers its health probe while its triggers misbehave.
          if (checked++ % 10 === 0) await healthy(agent);
          await Bun.sleep(200);
        }
        await healthy(agent);
        const status = (await (await fetch(`${agent.health}/status`)).json()) as any;
        await stopsPromptly(agent);
        // Everything spooled is delivered by now; a duplicate would show.
        events = await storedEvents(agentId, "tally.tick");

        const unruly = findPluginStats(status, "unruly");
        let remaining: ReturnType<typeof leftovers> = [];
        let leftBehind = "";
        try {
          await waitUntil(() => ((remaining = leftovers(undefined, agent.home)).length === 0 ? true : undefined), "no plugin process left after the sensor stopped", 10_000);
        } catch {
          leftBehind = describeProcesses(remaining);
        }
        const seqs = events.map((event) => event.data.seq);
        account(`plugins-sensor-${level}`, {
          emitted: TALLY,
          delivered: new Set(seqs.filter((seq) => seq >= 1 && seq <= TALLY)).size,
          duplicated: duplicates(seqs) + duplicates(events.map((event) => event.id)),
          extra: {
            unruly_runs: unruly.runs,
            unruly_failures: unruly.failures,
            unruly_timeouts: unruly.timeouts,
            unruly_crashes: unruly.crashes,
            unruly_quarantined: `${unruly.quarantined}/${UNRULY.length}`,
            unruly_events: (await storedEvents(agentId, "unruly.ok")).length,
            leftovers: remaining.length,
          },
        });
        // The unruly triggers did misbehave, at rate.
        expect(unruly.failures).toBeGreaterThan(UNRULY.length);
        expect(leftBehind).toBe("");
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw new Error(`${message}\n\n----- sensor ${agentId} (last 40 lines) -----\n${agent.process.output().split("\n").slice(-40).join("\n")}`, { cause: error });
      } finally {
        agent.process.kill("SIGKILL");
      }
    },
    scenarioTimeout(scale({ short: 30_000, full: 120_000 })),
  );
});

/** A plugin's counters summed over its instances, from the agent's /status, and how many are quarantined. */
function findPluginStats(status: any, id: string): { runs: number; failures: number; timeouts: number; crashes: number; quarantined: number } {
  const total = { runs: 0, failures: 0, timeouts: 0, crashes: 0, quarantined: 0 };
  const found = (function search(value: any): any {
    if (!value || typeof value !== "object") return undefined;
    if (value[id]?.instances) return value[id];
    for (const child of Object.values(value)) {
      const hit = search(child);
      if (hit) return hit;
    }
    return undefined;
  })(status);
  for (const instance of Object.values<any>(found?.instances ?? {})) {
    for (const key of ["runs", "failures", "timeouts", "crashes"] as const) total[key] += instance.stats?.[key] ?? 0;
    if (instance.state === "quarantined") total.quarantined++;
  }
  return total;
}
