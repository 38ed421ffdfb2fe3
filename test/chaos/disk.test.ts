/**
 * Chaos scenario 5: the disk under the sensor's event spool and under the action agent's journal
 * fills up, stays full for a while, then has room again. Each agent runs in a mount namespace of its
 * own (`unshare --mount`) in which its `data/state` directory is a small tmpfs; the test fills that
 * tmpfs with a ballast file through `/proc/<pid>/root` and deletes the ballast to give the space
 * back. The agent must say so (a log line naming the file and the cause, a reason on /ready), keep
 * running, lose nothing it had accepted, and recover by itself.
 *
 * "Emitted" for the sensor means accepted by its spool: the trigger's events minus the ones the
 * full spool refused, counted by the agent itself (plugins.events.refused on /status) and logged.
 *
 * A disk turning read-only under a running agent cannot be staged: Linux refuses `mount -o
 * remount,ro` (EBUSY) while a file is open for writing on it, which the spool and the journal
 * always are, and the one way round it (ext4 `remount,abort`) cannot be undone without unmounting.
 * What is staged is a disk already read-only when the agent starts: a start-up error, loud.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOrchestrator, writeAgentConfig, type Orchestrator } from "../support/agents.ts";
import { hostBinary } from "../support/binary.ts";
import { account, duplicates, scale, scenarioTimeout } from "../support/chaos.ts";
import { killAll, startProcess, waitUntil, type TestProcess } from "../support/process.ts";

const ADMIN = "chaos-disk-admin-token-0123";
const PLUGINS = join(import.meta.dir, "..", "e2e", "fixtures", "plugins");
/** Room on the small disk before the ballast: a WAL at its checkpoint size (4 MB) and the database. */
const DISK_SIZE = "16m";
/** How long each disk stays full. */
const FULL_MS = scale({ short: 3_000, full: 30_000 });

const dir = mkdtempSync(join(tmpdir(), "stavily-chaos-disk-"));
let binary: string;

beforeAll(async () => {
  binary = await hostBinary();
  smallDisksWork();
});
afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Fails loudly (never skips) where the scenario cannot be staged: it needs root, or at least the
 * right to make mount namespaces and mount a tmpfs in them (util-linux's unshare and mount).
 */
function smallDisksWork(): void {
  const probe = join(dir, "probe");
  mkdirSync(probe);
  // 2 MB into a 1 MB tmpfs must fail with "no space"; exit 3 if it did not.
  const script = `mount -t tmpfs -o size=1m stavily-probe "$1" || exit 2; head -c 2000000 /dev/zero > "$1/fill" && exit 3; exit 0`;
  let outcome: string;
  try {
    const result = Bun.spawnSync(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", probe], { stderr: "pipe" });
    outcome = result.success ? "" : `exit ${result.exitCode}: ${result.stderr.toString().trim() || "no message"}`;
  } catch (error) {
    outcome = String(error);
  }
  if (outcome) {
    throw new Error(
      `chaos[disk]: cannot stage a full disk here: \`unshare --mount\`, then \`mount -t tmpfs -o size=1m\` and a 2 MB write into it that must end in "no space" (${outcome}). ` +
        `These scenarios need root (CAP_SYS_ADMIN) and util-linux's unshare and mount; they are not skipped.`,
    );
  }
}

/** An agent whose `stateDir` is a tmpfs of DISK_SIZE, private to its mount namespace. */
interface SmallDiskAgent {
  process: TestProcess;
  /** `stateDir` as the test sees it: through the agent's own mount namespace. */
  state: string;
  healthUrl: string;
}

function startInNamespace(args: string[], stateDir: string, options: { readOnly?: boolean } = {}): TestProcess {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  // unshare and sh exec in place, so the process is the agent and /proc/<pid>/root is its view.
  const readOnly = options.readOnly ? ` && mount -o remount,ro "$1"` : "";
  const script = `mount -t tmpfs -o size=${DISK_SIZE},mode=0700 stavily-state "$1"${readOnly} && shift && exec "$@"`;
  return startProcess(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", stateDir, binary, ...args]);
}

async function startOnSmallDisk(args: string[], stateDir: string): Promise<SmallDiskAgent> {
  const process = startInNamespace(args, stateDir);
  const healthUrl = (await process.waitFor(/health server listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
  return { process, state: `/proc/${process.proc.pid}/root${stateDir}`, healthUrl };
}

/** Writes a ballast file until the disk has no byte left; returns its size. */
function fillDisk(agent: SmallDiskAgent): number {
  const fd = openSync(join(agent.state, "ballast"), "w");
  let written = 0;
  try {
    for (const size of [1 << 20, 1 << 12, 1]) {
      const chunk = Buffer.alloc(size, 0x42);
      for (;;) {
        try {
          written += writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

function freeDisk(agent: SmallDiskAgent): void {
  rmSync(join(agent.state, "ballast"));
}

async function readiness(agent: SmallDiskAgent): Promise<{ status: number; reasons: string[] }> {
  const response = await fetch(`${agent.healthUrl}/ready`);
  return { status: response.status, reasons: ((await response.json()) as { reasons: string[] }).reasons };
}

async function status(agent: SmallDiskAgent): Promise<any> {
  const response = await fetch(`${agent.healthUrl}/status`);
  if (!response.ok) throw new Error(`/status: ${response.status}`);
  return response.json();
}

/** The agent answers /health and has not exited: degraded, not dead. */
async function expectAlive(agent: SmallDiskAgent): Promise<void> {
  expect(agent.process.proc.exitCode).toBeNull();
  expect((await fetch(`${agent.healthUrl}/health`)).status).toBe(200);
}

/** Waits for /ready to name the full disk, and returns the reason. */
async function degradedReason(agent: SmallDiskAgent, file: RegExp): Promise<string> {
  return waitUntil(async () => {
    const { status, reasons } = await readiness(agent);
    return status === 503 ? reasons.find((reason) => file.test(reason) && /full/i.test(reason)) : undefined;
  }, `/ready to answer 503 naming ${file} and the full disk`);
}

async function recovered(agent: SmallDiskAgent): Promise<void> {
  await waitUntil(async () => ((await readiness(agent)).status === 200 ? true : undefined), "/ready to answer 200 again once the disk has room", 30_000);
}

/** Fails with what the processes said, so a failed scenario explains itself. */
async function withLogs(processes: () => TestProcess[], body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    const logs = processes().map((p) => `----- ${p.proc.pid} -----\n${p.output()}`).join("\n");
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n\n${logs}`, { cause: error });
  }
}

describe("chaos: the disk under the spool and the journal fills up", () => {
  test(
    "sensor: a full spool disk refuses new events loudly and counts them, keeps what it holds, and recovers",
    async () => {
      // About 200 events a second, for long enough to run through the whole outage and past it.
      const total = scale({ short: 3_000, full: 12_000 });
      const db = join(dir, "sensor-orchestrator.db");
      const orchestrator = await startOrchestrator(binary, { db, adminToken: ADMIN });
      const id = "chaos-disk-sensor";
      const base = join(dir, "sensor-homes");
      const config = writeAgentConfig(dir, {
        type: "sensor",
        id,
        baseDir: base,
        url: orchestrator.url,
        extra: {
          agent: { poll_interval: "10m" },
          api: { retry_delay: "100ms" },
          plugins: { directory: PLUGINS },
          sensor: { batch_size: 100, flush_interval: "200ms", triggers: [{ plugin: "burst", interval: "100ms", config: { per_run: 20, total } }] },
        },
      });
      let sensor: SmallDiskAgent | undefined;
      await withLogs(
        () => [orchestrator.process, ...(sensor ? [sensor.process] : [])],
        async () => {
          sensor = await startOnSmallDisk(["sensor", "-c", config], join(base, `agent-${id}`, "data", "state"));
          await waitUntil(() => (stored(db, id).length >= 200 ? true : undefined), "the first events at the orchestrator", 30_000);

          const ballast = fillDisk(sensor);
          await sensor.process.waitFor(/events could not be spooled/, 20_000);
          const reason = await degradedReason(sensor, /events\.db/);
          console.info(`chaos[disk] sensor: ballast ${ballast} bytes; /ready says: ${reason}`);
          await Bun.sleep(FULL_MS); // the outage itself
          await expectAlive(sensor);
          const whileFull = await status(sensor);
          expect(whileFull.plugins.events.refused).toBeGreaterThan(0);
          // What the spool held when the disk filled (acknowledgements cannot be written either) stays in it.
          const heldWhileFull = whileFull.spool.events as number;

          freeDisk(sensor);
          await recovered(sensor);
          // The trigger runs to its end; every event the spool accepted reaches the orchestrator.
          const events = await waitUntil(async () => {
            const current = (await status(sensor!)).plugins.events;
            return current.detected === total && stored(db, id).length >= total - current.refused ? current : undefined;
          }, `all ${total} events detected, and the accepted ones stored`, 60_000 + FULL_MS);
          const rows = stored(db, id);
          // Refusal is logged, not silent: the lines while it lasts (at most one a minute) and the
          // one when it ends add up to the agent's own counter.
          const output = sensor.process.output();
          const sum = (pattern: RegExp) => [...output.matchAll(pattern)].reduce((total, match) => total + Number(match[1]), 0);
          expect(sum(/events could not be spooled .*?count=(\d+)/g) + sum(/events are spooled again refused=(\d+)/g)).toBe(events.refused);
          expect({ suppressed: events.suppressed, dropped: events.dropped }).toEqual({ suppressed: 0, dropped: 0 });
          // Events after the outage were accepted again.
          expect(Math.max(...rows.map((row) => row.seq))).toBe(total);
          account("disk-sensor", {
            emitted: total - events.refused,
            delivered: new Set(rows.map((row) => row.seq)).size,
            duplicated: duplicates(rows.map((row) => row.id)) + duplicates(rows.map((row) => row.seq)),
            extra: { detected: events.detected, refused: events.refused, "spooled while full": heldWhileFull, "full for ms": FULL_MS },
          });
          sensor.process.kill("SIGTERM");
          expect(await sensor.process.exited).toBe(0);
        },
      );
    },
    scenarioTimeout(FULL_MS + 30_000),
  );

  test(
    "action: a full journal disk holds instructions until they can be recorded, runs each once, and recovers",
    async () => {
      const before = scale({ short: 10, full: 40 });
      const during = scale({ short: 20, full: 100 });
      const db = join(dir, "action-orchestrator.db");
      // A short lease: instructions held by the agent while the disk is full are delivered again.
      const orchestrator = await startOrchestrator(binary, { db, adminToken: ADMIN, lease: "2s" });
      const admin = adminApi(orchestrator);
      const id = "chaos-disk-action";
      const base = join(dir, "action-homes");
      const effects = join(dir, "action-effects.log");
      const config = writeAgentConfig(dir, {
        type: "action",
        id,
        baseDir: base,
        url: orchestrator.url,
        extra: {
          agent: { poll_interval: "10m" },
          action: { max_concurrent_tasks: 4 },
          plugins: { config: { "shell-command": { allowed_commands: ["sh"] } } },
        },
      });
      const create = async (n: number) =>
        (
          await admin("/instructions", {
            method: "POST",
            body: JSON.stringify({ agent_id: id, plugin_id: "shell-command", instruction_type: "execute", max_retries: 0, timeout_seconds: 30, input_data: { command: ["sh", "-c", `echo ${n} >> ${effects}`] } }),
          })
        ).id as string;
      const final = (ids: string[], timeoutMs: number) =>
        waitUntil(async () => {
          const all = await Promise.all(ids.map((instruction) => admin(`/instructions/${instruction}`)));
          return all.every((instruction) => ["completed", "failed", "timeout", "cancelled"].includes(instruction.status)) ? all : undefined;
        }, `${ids.length} instructions to end`, timeoutMs);

      let agent: SmallDiskAgent | undefined;
      await withLogs(
        () => [orchestrator.process, ...(agent ? [agent.process] : [])],
        async () => {
          agent = await startOnSmallDisk(["action", "-c", config], join(base, `agent-${id}`, "data", "state"));
          await agent.process.waitFor(/taking instructions in \d+ slots?/);
          const ids: string[] = [];
          for (let n = 1; n <= before; n++) ids.push(await create(n));
          await final(ids, 30_000);

          const ballast = fillDisk(agent);
          for (let n = before + 1; n <= before + during; n++) ids.push(await create(n));
          await agent.process.waitFor(/journal\.db.*(full|disk)/i, 20_000);
          const reason = await degradedReason(agent, /journal\.db/);
          console.info(`chaos[disk] action: ballast ${ballast} bytes; /ready says: ${reason}`);
          await Bun.sleep(FULL_MS); // the outage itself
          await expectAlive(agent);

          freeDisk(agent);
          await recovered(agent);
          const done = await final(ids, 60_000 + FULL_MS);
          const ran = readFileSync(effects, "utf8").split("\n").filter(Boolean);
          const runs = new Map<string, number>();
          for (const line of ran) runs.set(line, (runs.get(line) ?? 0) + 1);
          expect(agent.process.output()).toContain("journal written again; the instruction goes on");
          expect(done.filter((instruction) => instruction.status !== "completed").map((instruction) => [instruction.id, instruction.status, instruction.error_message])).toEqual([]);
          account("disk-action", {
            emitted: ids.length,
            delivered: done.filter((instruction) => instruction.status === "completed" && runs.get(String(ids.indexOf(instruction.id) + 1)) === 1).length,
            duplicated: duplicates(ran),
            extra: {
              "created while full": during,
              "delivered again": done.reduce((sum, instruction) => sum + Math.max(0, (instruction.delivery_count ?? 1) - 1), 0),
              "full for ms": FULL_MS,
            },
          });
          agent.process.kill("SIGTERM");
          expect(await agent.process.exited).toBe(0);
        },
      );
    },
    scenarioTimeout(FULL_MS + 30_000),
  );
});

describe("chaos: the state disk is read-only", () => {
  for (const type of ["sensor", "action"] as const) {
    test(`${type}: a read-only state disk at start is a start-up error naming the file and the cause, and the agent exits`, async () => {
      const id = `chaos-readonly-${type}`;
      const base = join(dir, "readonly-homes");
      const config = writeAgentConfig(dir, { type, id, baseDir: base, url: "http://127.0.0.1:9", extra: { plugins: { directory: PLUGINS } } });
      const stateDir = join(base, `agent-${id}`, "data", "state");
      const agent = startInNamespace([type, "-c", config], stateDir, { readOnly: true });
      // Exit 1 with the reason, not a hang (nor an agent heartbeating with no runtime): the service manager shows the line.
      const exited = await Promise.race([agent.exited, Bun.sleep(20_000).then(() => "still running after 20 s")]);
      const file = join(stateDir, type === "sensor" ? "events.db" : "journal.db");
      const what = type === "sensor" ? "the event spool" : "the journal";
      expect({ exited, output: agent.output() }).toMatchObject({ exited: 1, output: expect.stringContaining(`cannot open ${what} ${file}: unable to open database file (EROFS: read-only file system`) });
    });
  }
});

function adminApi(orchestrator: Orchestrator) {
  return async (path: string, init: RequestInit = {}): Promise<any> => {
    const response = await fetch(`${orchestrator.url}/api/v1${path}`, {
      ...init,
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    });
    const body = await response.json();
    if (!response.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${JSON.stringify(body)}`);
    return body;
  };
}

/** The events the orchestrator stored for `agentId`, read from its database (the API lists 1,000 at most). */
function stored(file: string, agentId: string): Array<{ id: string; seq: number }> {
  const db = new Database(file, { readonly: true });
  try {
    return db.query<{ id: string; seq: number }, [string]>("SELECT id, json_extract(body, '$.data.seq') AS seq FROM events WHERE agent_id = ?").all(agentId);
  } finally {
    db.close();
  }
}
