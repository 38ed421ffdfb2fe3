/**
 * The sensor with the compiled binary and `stavily orchestrator` on 127.0.0.1: every event spooled
 * is delivered exactly once, whether the orchestrator goes away or the sensor is killed.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOrchestrator as startShared, writeAgentConfig } from "../support/agents.ts";
import { hostBinary } from "../support/binary.ts";
import { freePort, killAll, startProcess, waitUntil, type TestProcess } from "../support/process.ts";

const ADMIN = "sensor-e2e-admin-token-0123";
const PLUGINS = join(import.meta.dir, "fixtures", "plugins");
const dir = mkdtempSync(join(tmpdir(), "stavily-sensor-e2e-"));
let binary: string;

beforeAll(async () => {
  binary = await hostBinary();
});
afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

async function orchestrator(db: string, port: number): Promise<{ process: TestProcess; url: string }> {
  return startShared(binary, { db, listen: `127.0.0.1:${port}`, adminToken: ADMIN });
}

async function storedEvents(url: string, agentId: string): Promise<Array<{ id: string; data: { seq: number } }>> {
  const response = await fetch(`${url}/api/v1/events?agent_id=${agentId}&limit=1000`, { headers: { authorization: `Bearer ${ADMIN}` } });
  if (!response.ok) throw new Error(`events: ${response.status}`);
  return ((await response.json()) as { events: Array<{ id: string; data: { seq: number } }> }).events;
}

function sensorConfig(name: string, url: string, total: number, extra: string[] = []): string {
  return writeAgentConfig(dir, {
    type: "sensor",
    id: name,
    baseDir: join(dir, "agents"),
    url,
    extra: [
      "agent:",
      "  poll_interval: 10m",
      "api:",
      "  retry_delay: 100ms",
      "plugins:",
      `  directory: ${PLUGINS}`,
      "sensor:",
      "  batch_size: 100",
      "  flush_interval: 200ms",
      "  triggers:",
      "    - plugin: burst",
      "      interval: 100ms",
      `      config: { per_run: 50, total: ${total} }`,
      ...extra,
    ],
  });
}

const expectExactlyOnce = (events: Array<{ id: string; data: { seq: number } }>, total: number) => {
  expect(new Set(events.map((event) => event.id)).size).toBe(events.length);
  expect(events.map((event) => event.data.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
};

async function agentHeartbeat(url: string, agentId: string): Promise<any> {
  const response = await fetch(`${url}/api/v1/agents`, { headers: { authorization: `Bearer ${ADMIN}` } });
  const { agents } = (await response.json()) as { agents: Array<{ id: string; last_heartbeat?: any }> };
  return agents.find((agent) => agent.id === agentId)?.last_heartbeat;
}

describe("stavily sensor with stavily orchestrator", () => {
  test("a full spool drops the configured side (the oldest) and counts it", async () => {
    // The orchestrator starts only once every event is emitted, so none can be delivered before.
    const port = freePort();
    const db = join(dir, "overflow.db");
    const config = sensorConfig("sensor-overflow", `http://127.0.0.1:${port}`, 1000, ["  event_buffer_size: 100"]);
    const sensor = startProcess([binary, "sensor", "-c", config]);
    await sensor.waitFor(/event spool full: events dropped/, 30_000);
    const spoolFile = join(dir, "agents", "agent-sensor-overflow", "data", "state", "events.db");
    // The trigger has emitted all 1,000 once the spool holds the last of them.
    await waitUntil(() => (spooledIds(spoolFile).length === 100 && maxSeq(spoolFile) === 1000 ? true : undefined), "the last event spooled", 30_000);

    const current = await orchestrator(db, port);
    // The newest 100 all arrive. A batch already inside the client's retries when the spool
    // dropped its events may still land too: at most one batch (100) of older events, never more.
    const newest = Array.from({ length: 100 }, (_, i) => 901 + i);
    const events = await waitUntil(async () => {
      const seqs = new Set((await storedEvents(current.url, "sensor-overflow")).map((event) => event.data.seq));
      return newest.every((seq) => seqs.has(seq)) ? seqs : undefined;
    }, "the newest 100 events", 75_000);
    expect(events.size).toBeLessThanOrEqual(200);
    // The count travels with every heartbeat.
    const beat = await waitUntil(async () => {
      const last = await agentHeartbeat(current.url, "sensor-overflow");
      return last?.plugins?.events?.dropped === 900 ? last : undefined;
    }, "a heartbeat counting 900 dropped events", 15_000);
    expect(beat.plugins.events.dropped).toBe(900);
    sensor.kill("SIGTERM");
    expect(await sensor.exited).toBe(0);
  }, 120_000);

  test("with the orchestrator away for 30 s while 1,000 events are emitted, all arrive exactly once when it is back", async () => {
    const port = freePort();
    const db = join(dir, "away.db");
    let current = await orchestrator(db, port);
    const sensor = startProcess([binary, "sensor", "-c", sensorConfig("sensor-away", current.url, 1000)]);
    await sensor.waitFor(/registered with the orchestrator/);
    current.process.kill("SIGTERM");
    expect(await current.process.exited).toBe(0);
    const away = Date.now();
    // All 1,000 emitted into the spool while nobody listens; delivery keeps failing meanwhile.
    await sensor.waitFor(/event delivery failed; events stay spooled/, 30_000);
    const spoolFile = join(dir, "agents", "agent-sensor-away", "data", "state", "events.db");
    await waitUntil(() => (spooled(spoolFile) >= 1000 ? true : undefined), "1,000 events in the spool", 30_000);
    // The outage itself lasts 30 s (the scenario, not a wait for anything): delivery backs off
    // through it, several times, without spinning and without losing what it holds.
    await Bun.sleep(Math.max(0, 30_000 - (Date.now() - away)));
    expect(spooled(spoolFile)).toBe(1000);

    current = await orchestrator(db, port);
    // The next retry may be up to the backoff cap (60 s) away after a long outage.
    const events = await waitUntil(async () => {
      const stored = await storedEvents(current.url, "sensor-away");
      return stored.length >= 1000 ? stored : undefined;
    }, "all 1,000 events stored", 75_000);
    expectExactlyOnce(events, 1000);
    sensor.kill("SIGTERM");
    expect(await sensor.exited).toBe(0);
  }, 180_000);

  test("kill -9 of the sensor mid-stream, then a restart: every spooled event is delivered, none twice", async () => {
    const { url } = await orchestrator(join(dir, "killed.db"), 0);
    const config = sensorConfig("sensor-killed", url, 1000);
    const first = startProcess([binary, "sensor", "-c", config]);
    await waitUntil(async () => ((await storedEvents(url, "sensor-killed")).length >= 200 ? true : undefined), "the first events to arrive", 30_000);
    first.kill("SIGKILL");
    await first.exited;
    // What the killed sensor had spooled and not yet delivered: each must arrive after the restart.
    const pending = spooledIds(join(dir, "agents", "agent-sensor-killed", "data", "state", "events.db"));

    const second = startProcess([binary, "sensor", "-c", config]);
    await second.waitFor(/running 1 triggers/);
    // Event ids are given when events are spooled; the one detect in flight at the kill may never
    // have been spooled, so seq may have a gap, but nothing spooled is lost and nothing is stored twice.
    const events = await waitUntil(async () => {
      const stored = await storedEvents(url, "sensor-killed");
      const ids = new Set(stored.map((event) => event.id));
      return stored.length >= 950 && pending.every((id) => ids.has(id)) ? stored : undefined;
    }, "the spooled events and the rest of the stream", 60_000);
    expect(new Set(events.map((event) => event.id)).size).toBe(events.length);
    expect(new Set(events.map((event) => event.data.seq)).size).toBe(events.length);
    second.kill("SIGTERM");
    expect(await second.exited).toBe(0);
  }, 120_000);

  test("outputs get the same events: the file output writes each one as a JSON line", async () => {
    const { url } = await orchestrator(join(dir, "outputs.db"), 0);
    const out = join(dir, "events-out.jsonl");
    const config = sensorConfig("sensor-outputs", url, 300, ["  outputs:", "    - plugin: file", `      config: { path: ${out} }`]);
    const sensor = startProcess([binary, "sensor", "-c", config]);
    const lines = await waitUntil(() => {
      const text = existsSync(out) ? readFileSync(out, "utf8") : "";
      const parsed = text.split("\n").filter(Boolean).map((line) => JSON.parse(line));
      return parsed.length >= 300 ? parsed : undefined;
    }, "300 events in the output file", 30_000);
    expect(new Set(lines.map((event) => event.data.seq)).size).toBe(300);
    const stored = await waitUntil(async () => {
      const events = await storedEvents(url, "sensor-outputs");
      return events.length >= 300 ? events : undefined;
    }, "the same 300 at the orchestrator", 30_000);
    expect(new Set(stored.map((event) => event.id))).toEqual(new Set(lines.map((event) => event.id)));
    sensor.kill("SIGTERM");
    expect(await sensor.exited).toBe(0);
  }, 120_000);
});

function maxSeq(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    const row = db.query<{ seq: number | null }, []>("SELECT max(json_extract(body, '$.data.seq')) AS seq FROM events").get();
    return row?.seq ?? 0;
  } finally {
    db.close();
  }
}

function spooledIds(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.query<{ id: string }, []>("SELECT id FROM events").all().map((row) => row.id);
  } finally {
    db.close();
  }
}

/** Events waiting in a sensor's spool, read from its SQLite file (WAL readers do not block it). */
function spooled(file: string): number {
  try {
    const db = new Database(file, { readonly: true });
    try {
      return db.query<{ n: number }, []>("SELECT count(*) AS n FROM events").get()!.n;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}
