/**
 * Scenario 3, kill -9: the sensor, then the action agent, killed at random moments again and
 * again, each time started again with the same config and home. Every event the trigger emitted
 * is stored once; every instruction ends with one final result, and its effect happens at most
 * once (once when it completed; once or never when a kill cut it off and it ended agent_restarted);
 * what a killed agent left running is gone once the next one takes work.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Orchestrator } from "../support/agents.ts";
import { hostBinary } from "../support/binary.ts";
import { account, chaosRandom, scale, scenarioTimeout } from "../support/chaos.ts";
import { freePort, killAll, startProcess, waitUntil } from "../support/process.ts";
import {
  actionConfig,
  allFinal,
  createInstructionStream,
  createScene,
  instructionCounts,
  killNine,
  orchestratorAt,
  processes,
  sensorConfig,
  sensorHome,
  settleEvents,
  stopCounter,
} from "./_flows.ts";

const KILLS = scale({ short: 5, full: 40 });
/** Longest run between a start and its kill: from the middle of start-up to well into steady work. */
const MAX_RUN_MS = 2_500;
const KILL_MOMENTS = ["random", /instruction received/, /instruction (completed|failed)/] as const;
const PLANNED_MS = KILLS * (MAX_RUN_MS + 1_500);
const dir = mkdtempSync(join(tmpdir(), "stavily-chaos-kill-"));
const db = join(dir, "orchestrator.db");
let binary: string;
let orchestrator: Orchestrator;
const scene = createScene();

beforeAll(async () => {
  binary = await hostBinary();
  // A short lease: an instruction delivered to an agent killed before it wrote it down comes back soon.
  orchestrator = await orchestratorAt(binary, db, freePort(), "2s");
  scene.add("orchestrator", orchestrator.process);
});

afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

const start = (name: string, argv: string[]) => scene.add(name, startProcess(argv));

describe("chaos: kill -9", () => {
  test(
    `the sensor killed ${KILLS} times while its trigger emits: every event stored once`,
    () =>
      scene.run(async () => {
        const random = chaosRandom();
        const id = "chaos-kill-sensor";
        const home = sensorHome(dir, id);
        const config = sensorConfig(dir, id, orchestrator.url);
        for (let kill = 1; kill <= KILLS; kill++) {
          const sensor = start(`sensor (run ${kill})`, [binary, "sensor", "-c", config]);
          // Some kills land in start-up (spool opening, resending), most in steady emission and delivery.
          await Bun.sleep(random.int(300, MAX_RUN_MS));
          // A kill between a detect and its events reaching the spool leaves the trigger's state
          // uncommitted: the next sensor runs that detect again, with the same event ids.
          await killNine(sensor, `sensor (run ${kill})`);
        }
        const last = start("sensor (last run)", [binary, "sensor", "-c", config]);
        await last.waitFor(/running 1 triggers/, 30_000);
        const emitted = await stopCounter(home);
        const counts = await settleEvents({ home, orchestratorDb: db, agentId: id, emitted, timeoutMs: 60_000 });
        account("kill-9 sensor", { ...counts, extra: { kills: KILLS, seed: random.seed } });
        last.kill("SIGTERM");
        expect(await last.exited).toBe(0);
      }),
    scenarioTimeout(PLANNED_MS),
  );

  test(
    `the action agent killed ${KILLS} times under a stream of instructions: each ends once, no effect twice`,
    () =>
      scene.run(async () => {
        const random = chaosRandom();
        const id = "chaos-kill-action";
        const effects = join(dir, "effects.txt");
        const config = actionConfig(dir, id, orchestrator.url);
        const stream = createInstructionStream({ url: orchestrator.url, agentId: id, effects, random });
        let creating = true;
        const creator = (async () => {
          while (creating) {
            await stream.create();
            await Bun.sleep(random.int(50, 300)); // pacing, about as fast as 4 slots run them
          }
        })();
        try {
          for (let kill = 1; kill <= KILLS; kill++) {
            const agent = start(`action agent (run ${kill})`, [binary, "action", "-c", config]);
            // A third at a random moment; the others as soon as the agent says it took an instruction
            // (journaled, not started) or finished one (result kept, not yet acknowledged).
            const moment = KILL_MOMENTS[random.int(0, KILL_MOMENTS.length - 1)]!;
            if (moment === "random") await Bun.sleep(random.int(300, MAX_RUN_MS));
            else await agent.waitFor(moment, 15_000).catch(() => undefined); // no such moment in time: kill anyway
            await killNine(agent, `action agent (run ${kill})`);
          }
        } finally {
          creating = false;
          await creator;
        }
        const last = start("action agent (last run)", [binary, "action", "-c", config]);
        await last.waitFor(/taking instructions in \d+ slots/, 30_000);
        // Commands of killed agents outlive them (their own process group) until the next start reaps them,
        // before it takes work (src/core/plugin/reap.ts): none runs on to add an effect behind the counting.
        expect(leftovers(effects, last.proc.pid)).toEqual([]);
        await waitUntil(() => (allFinal(db, stream.ids) ? true : undefined), `a final result for each of ${stream.ids.size} instructions`, 120_000).catch((error) => console.error(String(error)));
        const counts = instructionCounts(db, stream.ids, effects);
        const { emitted, delivered, duplicated } = counts;
        const extra = {
          kills: KILLS,
          agent_restarted: counts.restarted,
          "of which the effect happened": counts.restartedAfterEffect,
          undeliverable: counts.undeliverable,
          unexpected: counts.unexpected.length,
          seed: random.seed,
        };
        account("kill-9 action", { emitted, delivered, duplicated, extra });
        expect(counts.unexpected).toEqual([]);
        last.kill("SIGTERM");
        expect(await last.exited).toBe(0);
      }),
    scenarioTimeout(PLANNED_MS),
  );
});

/** Commands of the stream running that `agentPid` did not start (it and its descendants are left out): a killed agent's. */
function leftovers(effects: string, agentPid: number): string[] {
  const all = processes();
  const parents = new Map(all.map((p) => [p.pid, p.ppid]));
  const startedBy = (pid: number): boolean => {
    for (let up: number | undefined = pid; up !== undefined && up > 1; up = parents.get(up)) if (up === agentPid) return true;
    return false;
  };
  return all.filter((p) => p.cmdline.includes(effects) && !startedBy(p.pid)).map((p) => `${p.pid}: ${p.cmdline.trim()}`);
}
