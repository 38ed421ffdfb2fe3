/**
 * What the kill-9 and orchestrator-restart scenarios share: a sensor whose `counter` trigger numbers
 * its events across restarts, a stream of shell-command instructions whose effect is one line in a
 * file, and the accounting of both, read from the files the processes leave behind (the
 * orchestrator's SQLite file, the sensor's spool and trigger state, the effect file). The other
 * scenarios read the same files and processes through the helpers here.
 */
import { Database } from "bun:sqlite";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startOrchestrator, writeAgentConfig, type Orchestrator } from "../support/agents.ts";
import { duplicates } from "../support/chaos.ts";
import { waitUntil, type TestProcess } from "../support/process.ts";

export const ADMIN = "chaos-admin-token-0123456789";
/** Events per detect of the counter trigger. */
export const PER_RUN = 5;
const TRIGGER = "ticks";
const PLUGINS = join(import.meta.dir, "fixtures", "plugins");
/** The statuses an instruction ends with. */
export const FINAL: ReadonlySet<string> = new Set(["completed", "failed", "timeout", "cancelled"]);

/** Starts the orchestrator on a fixed port, trying again while the old process's port is not free yet. */
export async function orchestratorAt(binary: string, db: string, port: number, lease: string): Promise<Orchestrator> {
  return waitUntil(async () => {
    try {
      return await startOrchestrator(binary, { db, listen: `127.0.0.1:${port}`, adminToken: ADMIN, lease });
    } catch (error) {
      if (/address|EADDRINUSE|in use/i.test(String(error))) return undefined;
      throw error;
    }
  }, `the orchestrator listening on port ${port}`, 30_000);
}

/** Opens a SQLite file read-only (WAL readers do not block its writer) for one query. */
export function readDb<T>(file: string, read: (db: Database) => T): T {
  const db = new Database(file, { readonly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

// ---- the sensor and its events

export function sensorHome(dir: string, id: string): string {
  return join(dir, "homes", `agent-${id}`);
}

/** A sensor running the counter every 100 ms, delivering small batches often. */
export function sensorConfig(dir: string, id: string, url: string): string {
  return writeAgentConfig(dir, {
    type: "sensor",
    id,
    baseDir: join(dir, "homes"),
    url,
    extra: {
      agent: { poll_interval: "10m" },
      api: { retry_delay: "100ms" },
      // Other scenarios keep their plugins in the same directory: run only the counter.
      plugins: { directory: PLUGINS, auto_load: false },
      sensor: { batch_size: 20, flush_interval: "100ms", triggers: [{ plugin: "counter", id: TRIGGER, interval: "100ms", config: { per_run: PER_RUN } }] },
    },
  });
}

function counterStateFile(home: string): string {
  return join(home, "data", "plugins-state", "counter", TRIGGER, "state.sqlite");
}

/** A key of the counter's ctx.state (the plugin's own SQLite file). */
export function counterState<T>(home: string, key: string): T | undefined {
  const file = counterStateFile(home);
  if (!existsSync(file)) return undefined;
  const row = readDb(file, (db) => db.query<{ value: string }, [string, string]>("SELECT value FROM kv WHERE instance = ? AND key = ?").get(TRIGGER, key));
  return row ? (JSON.parse(row.value) as T) : undefined;
}

/** Tells the counter to emit no more, and waits until a detect has seen it: nothing is emitted after. */
export async function stopCounter(home: string): Promise<number> {
  const db = new Database(counterStateFile(home));
  try {
    db.run("PRAGMA busy_timeout = 5000");
    db.run("INSERT INTO kv (instance, key, value) VALUES (?, 'stop', 'true') ON CONFLICT (instance, key) DO UPDATE SET value = 'true'", [TRIGGER]);
  } finally {
    db.close();
  }
  await waitUntil(() => counterState<boolean>(home, "stopped"), "the counter to stop emitting", 30_000);
  return counterState<number>(home, "emitted") ?? 0;
}

/** Numbers of the events waiting in the sensor's spool. */
export function spooledSeqs(home: string): number[] {
  const file = join(home, "data", "state", "events.db");
  if (!existsSync(file)) return [];
  return readDb(file, (db) => db.query<{ seq: number }, []>("SELECT json_extract(body, '$.data.seq') AS seq FROM events").all().map((row) => row.seq));
}

/** The counter's numbers of the events the orchestrator stored for `agentId`, once per stored row. */
export function storedSeqs(orchestratorDb: string, agentId: string): number[] {
  return readDb(orchestratorDb, (db) =>
    db.query<{ seq: number }, [string]>("SELECT json_extract(body, '$.data.seq') AS seq FROM events WHERE agent_id = ?").all(agentId).map((row) => row.seq),
  );
}

/** Waits until every emitted event (1 to `emitted`) is stored and the spool is empty; returns the accounting. */
export async function settleEvents(options: { home: string; orchestratorDb: string; agentId: string; emitted: number; timeoutMs: number }) {
  const expected = Array.from({ length: options.emitted }, (_, i) => i + 1);
  const counts = () => {
    const stored = storedSeqs(options.orchestratorDb, options.agentId);
    const distinct = new Set(stored);
    return { emitted: expected.length, delivered: expected.filter((seq) => distinct.has(seq)).length, duplicated: duplicates(stored) };
  };
  try {
    await waitUntil(
      () => (spooledSeqs(options.home).length === 0 && counts().delivered === expected.length ? true : undefined),
      `all ${expected.length} events stored`,
      options.timeoutMs,
    );
  } catch (error) {
    console.error(String(error)); // the accounting line says what is missing
  }
  return counts();
}

// ---- the action agent and its instructions

export function actionConfig(dir: string, id: string, url: string): string {
  return writeAgentConfig(dir, {
    type: "action",
    id,
    baseDir: join(dir, "homes"),
    url,
    extra: {
      agent: { poll_interval: "10m" },
      api: { retry_delay: "100ms" },
      action: { max_concurrent_tasks: 4 },
      plugins: { config: { "shell-command": { allowed_commands: ["sh"] } } },
    },
  });
}

/**
 * Instructions created one at a time through the admin API, each appending its tag to `effects`
 * between two short random sleeps (so a kill may land before, during or after the effect). Each
 * has its own Idempotency-Key, so a create retried across an orchestrator restart makes one.
 */
export function createInstructionStream(options: { url: string; agentId: string; effects: string; random: { int(min: number, max: number): number } }) {
  const ids = new Map<string, string>();
  const run = crypto.randomUUID().slice(0, 8);

  async function post(tag: string, body: unknown): Promise<string | undefined> {
    try {
      const response = await fetch(`${options.url}/api/v1/instructions`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json", "idempotency-key": `chaos-${run}-${tag}` },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      if (response.status >= 500) return undefined;
      if (!response.ok) throw new Error(`creating instruction ${tag}: ${response.status} ${await response.text()}`);
      return ((await response.json()) as { id: string }).id;
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("creating instruction")) throw error;
      return undefined; // the orchestrator is away: the same key again
    }
  }

  return {
    ids,
    async create(): Promise<void> {
      const tag = `t${ids.size + 1}`;
      const [before, after] = [options.random.int(0, 3), options.random.int(0, 3)];
      const body = {
        agent_id: options.agentId,
        plugin_id: "shell-command",
        instruction_type: "execute",
        input_data: { command: ["sh", "-c", `sleep 0.${before}; echo ${tag} >> ${options.effects}; sleep 0.${after}`] },
        timeout_seconds: 60,
        max_retries: 0,
      };
      ids.set(tag, await waitUntil(() => post(tag, body), `instruction ${tag} created`, 60_000));
    },
  };
}

interface InstructionRow {
  id: string;
  status: string;
  error_details: string | null;
}

/** Whether every instruction of the stream has a final status. */
export function allFinal(orchestratorDb: string, ids: ReadonlyMap<string, string>): boolean {
  const rows = instructionRows(orchestratorDb, ids);
  return [...ids.values()].every((id) => FINAL.has(rows.get(id)?.status ?? ""));
}

function instructionRows(orchestratorDb: string, ids: ReadonlyMap<string, string>): Map<string, InstructionRow> {
  const wanted = new Set(ids.values());
  const rows = readDb(orchestratorDb, (db) => db.query<InstructionRow, []>("SELECT id, status, error_details FROM instructions").all());
  return new Map(rows.filter((row) => wanted.has(row.id)).map((row) => [row.id, row]));
}

export interface ProcessEntry {
  pid: number;
  ppid: number;
  /** Its process group. */
  pgid: number;
  cmdline: string;
}

/** The live processes of the machine, from /proc (zombies left out: dead already, waiting to be reaped). */
export function processes(): ProcessEntry[] {
  const found: ProcessEntry[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z") continue;
      found.push({ pid: Number(entry), ppid: Number(fields[1]), pgid: Number(fields[2]), cmdline: readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ") });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Processes still running a command of the stream (left behind by a killed agent: they run to their end). */
export function effectProcesses(effects: string): number {
  return processes().filter((p) => p.cmdline.includes(effects)).length;
}

/**
 * The instructions' accounting. Delivered: a final status. Duplicated: a tag written twice. An
 * instruction may end `completed` (its effect written once) or `failed` with reason
 * agent_restarted (cut off by a kill: written once or never; `restartedAfterEffect` counts the
 * once), or `failed` with reason undeliverable and no effect (the orchestrator gave up after
 * --max-deliveries, as when kills keep landing between its answer and the agent's journal);
 * anything else is `unexpected`.
 */
export function instructionCounts(orchestratorDb: string, ids: ReadonlyMap<string, string>, effects: string) {
  const rows = instructionRows(orchestratorDb, ids);
  const lines = existsSync(effects) ? readFileSync(effects, "utf8").split("\n").filter(Boolean) : [];
  const written = new Set(lines);
  const unexpected: string[] = [];
  let restarted = 0;
  let restartedAfterEffect = 0;
  let undeliverable = 0;
  for (const [tag, id] of ids) {
    const row = rows.get(id);
    if (!row || !FINAL.has(row.status)) continue;
    const reason = row.error_details ? (JSON.parse(row.error_details) as { reason?: string }).reason : undefined;
    if (row.status === "failed" && reason === "agent_restarted") {
      restarted++;
      if (written.has(tag)) restartedAfterEffect++;
    } else if (row.status === "failed" && reason === "undeliverable" && !written.has(tag)) undeliverable++;
    else if (row.status !== "completed" || !written.has(tag)) unexpected.push(`${tag} ${id}: ${row.status}${reason ? ` (${reason})` : ""}${written.has(tag) ? "" : ", no effect"}`);
  }
  const delivered = [...ids.values()].filter((id) => FINAL.has(rows.get(id)?.status ?? "")).length;
  return { emitted: ids.size, delivered, duplicated: duplicates(lines), restarted, restartedAfterEffect, undeliverable, unexpected };
}

// ---- processes

/** Kills a process with SIGKILL and checks it was alive until then (it did not die on its own). */
export async function killNine(target: TestProcess, name: string): Promise<void> {
  if (target.proc.exitCode !== null || target.proc.signalCode !== null) {
    throw new Error(`${name} exited on its own (${target.proc.exitCode ?? target.proc.signalCode}) before the kill`);
  }
  target.kill("SIGKILL");
  await target.exited;
}

/** Waits for `pattern` in what the process writes from now on; false when it does not come in time. */
export async function nextOutput(target: TestProcess, pattern: RegExp, timeoutMs: number): Promise<boolean> {
  const from = target.output().length;
  try {
    await waitUntil(() => (pattern.test(target.output().slice(from)) ? true : undefined), String(pattern), timeoutMs);
    return true;
  } catch {
    return false;
  }
}

/** The processes a scenario started, by name: a failure carries the end of what each said (debug logs are long). */
export function createScene() {
  const started: [string, TestProcess][] = [];
  const tail = (text: string, chars = 2_000) => (text.length > chars ? `…${text.slice(-chars)}` : text);
  return {
    add<T extends TestProcess>(name: string, process: T): T {
      started.push([name, process]);
      return process;
    },
    async run(body: () => Promise<void>): Promise<void> {
      try {
        await body();
      } catch (error) {
        const logs = started.map(([name, process]) => `----- ${name} -----\n${tail(process.output())}`).join("\n");
        throw new Error(`${error instanceof Error ? error.message : String(error)}\n\n${logs}`, { cause: error });
      }
    },
  };
}
