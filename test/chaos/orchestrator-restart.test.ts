/**
 * Scenario 4, orchestrator restart: while a sensor streams events and an action agent works through
 * a stream of instructions, the orchestrator is stopped at random moments — kill -9 or SIGTERM,
 * in the middle of the agents' long polls and event batches — and started again on the same
 * SQLite file and port. Every event is stored once; every instruction ends with one final result
 * and its effect happens at most once.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostBinary } from "../support/binary.ts";
import { account, chaosRandom, scale, scenarioTimeout } from "../support/chaos.ts";
import { freePort, killAll, startProcess, waitUntil } from "../support/process.ts";
import {
  actionConfig,
  allFinal,
  createInstructionStream,
  createScene,
  effectProcesses,
  instructionCounts,
  nextOutput,
  orchestratorAt,
  sensorConfig,
  sensorHome,
  settleEvents,
  stopCounter,
} from "./_flows.ts";

const RESTARTS = scale({ short: 3, full: 20 });
const MAX_UP_MS = 3_000;
const MAX_DOWN_MS = 1_000;
const PLANNED_MS = RESTARTS * (MAX_UP_MS + MAX_DOWN_MS + 1_000);
const dir = mkdtempSync(join(tmpdir(), "stavily-chaos-restart-"));
let binary: string;

beforeAll(async () => {
  binary = await hostBinary();
});

afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe("chaos: orchestrator restart", () => {
  test(`the orchestrator stopped ${RESTARTS} times (kill -9 and SIGTERM) under events and instructions: nothing lost, nothing twice`, async () => {
    const random = chaosRandom();
    const port = freePort();
    const db = join(dir, "orchestrator.db");
    const url = `http://127.0.0.1:${port}`;
    const scene = createScene();
    let orchestrator = await orchestratorAt(binary, db, port, "2s");
    scene.add("orchestrator (run 1)", orchestrator.process);
    await scene.run(async () => {
      const sensorId = "chaos-restart-sensor";
      const home = sensorHome(dir, sensorId);
      const sensor = scene.add("sensor", startProcess([binary, "sensor", "-c", sensorConfig(dir, sensorId, url)]));
      const actionId = "chaos-restart-action";
      const agent = scene.add("action agent", startProcess([binary, "action", "-c", actionConfig(dir, actionId, url)]));
      await Promise.all([sensor.waitFor(/running 1 triggers/, 30_000), agent.waitFor(/taking instructions in \d+ slots/, 30_000)]);

      const effects = join(dir, "effects.txt");
      const stream = createInstructionStream({ url, agentId: actionId, effects, random });
      let creating = true;
      const creator = (async () => {
        while (creating) {
          await stream.create();
          await Bun.sleep(random.int(50, 300)); // pacing, about as fast as 4 slots run them
        }
      })();
      const signals = { SIGKILL: 0, SIGTERM: 0 };
      try {
        for (let restart = 1; restart <= RESTARTS; restart++) {
          // Idle slots always hold a long poll open, and the sensor sends a batch every 100 ms: a
          // random moment lands in the middle of both. Every other stop waits for a result on its way.
          await Bun.sleep(random.int(300, MAX_UP_MS));
          if (random.int(0, 1) === 1) await nextOutput(agent, /instruction completed/, 10_000);
          // Alternating, from a random first one, so even the short run has both.
          const signal = (restart + random.seed) % 2 === 0 ? "SIGKILL" : "SIGTERM";
          signals[signal]++;
          orchestrator.process.kill(signal);
          const code = await orchestrator.process.exited;
          if (signal === "SIGTERM") expect(code).toBe(0);
          await Bun.sleep(random.int(0, MAX_DOWN_MS)); // the outage itself
          orchestrator = await orchestratorAt(binary, db, port, "2s");
          scene.add(`orchestrator (run ${restart + 1})`, orchestrator.process);
        }
      } finally {
        creating = false;
        await creator;
      }

      const emitted = await stopCounter(home);
      const events = await settleEvents({ home, orchestratorDb: db, agentId: sensorId, emitted, timeoutMs: 90_000 });
      await waitUntil(() => (allFinal(db, stream.ids) ? true : undefined), `a final result for each of ${stream.ids.size} instructions`, 90_000).catch((error) => console.error(String(error)));
      await waitUntil(() => (effectProcesses(effects) === 0 ? true : undefined), "no command of the stream running", 30_000);
      const instructions = instructionCounts(db, stream.ids, effects);
      const extra = { restarts: RESTARTS, "kill -9": signals.SIGKILL, sigterm: signals.SIGTERM, seed: random.seed };
      try {
        account("orchestrator-restart events", { ...events, extra });
      } finally {
        const { emitted, delivered, duplicated } = instructions;
        account("orchestrator-restart instructions", { emitted, delivered, duplicated, extra: { ...extra, unexpected: instructions.unexpected.length } });
      }
      // No agent was killed: every instruction completed, its effect written once.
      expect(instructions.unexpected).toEqual([]);
      expect(instructions.restarted).toBe(0);
      sensor.kill("SIGTERM");
      agent.kill("SIGTERM");
      expect([await sensor.exited, await agent.exited]).toEqual([0, 0]);
    });
  }, scenarioTimeout(PLANNED_MS));
});
