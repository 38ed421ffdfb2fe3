/**
 * Chaos scenario 7: bad input at every boundary while a sensor and an action agent do real work.
 *
 * The agents talk to the real `stavily orchestrator` through a proxy in this file that can corrupt
 * chosen answers or answer a poll with an instruction of its own. While events flow (the `burst`
 * trigger) and good instructions run (`shell-command` appending a mark to a file), each round sends:
 *
 *   (a) broken configs by SIGHUP (invalid YAML, a wrong type, an unknown key) to both agents;
 *   (b) broken manifests dropped into the action agent's plugins directory, and plugin_install
 *       instructions pointing at malicious archives (traversal, symlink, oversize, bad checksum…);
 *   (c) instructions the admin API refuses, injected into poll answers by the proxy and (one) written
 *       straight into the orchestrator's SQLite, and well-formed but wrong ones (unknown plugin, bad
 *       parameters, parameters too big) through the admin API;
 *   (d) corrupted orchestrator answers to heartbeats, polls, updates, results and event batches.
 *
 * Each bad input must produce its own clear message; at the end every event is stored exactly once,
 * every good instruction completed with its effect carried out once, and both agents still serve.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostBinary } from "../support/binary.ts";
import { account, duplicates, scale, scenarioTimeout } from "../support/chaos.ts";
import { killAll, waitUntil } from "../support/process.ts";
import { brokenConfigs, brokenManifests, goodInstall, maliciousArchives } from "./_bad-input/own-inputs.ts";
import { countedAsErrors, stillServing } from "./_bad-input/logs.ts";
import { ACTION, create, SENSOR, startScene } from "./_bad-input/scene.ts";
import { corruptedAnswers, injectedRow, refusedInstructions, wrongInstructions } from "./_bad-input/wire.ts";
import { FINAL, readDb, sensorHome, spooledSeqs } from "./_flows.ts";

const ROUNDS = scale({ short: 1, full: 4 });
/** Roughly how long one round takes; the scenario's timeout follows from it. */
const ROUND_MS = 25_000;

const dir = mkdtempSync(join(tmpdir(), "stavily-chaos-bad-input-"));
afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

test(
  "bad input at every boundary: each a clear error, nothing lost, the agents still serving",
  async () => {
    const scene = await startScene(await hostBinary(), dir);
    const { action, sensor } = scene.agents;
    // The good instructions' own lines left out: a failure shows what the bad input did.
    const routine = /^.*\] instruction (received|completed) .*plugin_id=shell-command.*\n/gm;
    const logs = () =>
      ([["orchestrator", scene.orchestrator], ["action", action], ["sensor", sensor]] as const)
        .map(([name, started]) => `----- ${name} -----\n${started.output().replace(routine, "").slice(-30_000)}`)
        .join("\n");
    const good: string[] = [];
    let feeding = true;
    let feeder: Promise<void> = Promise.resolve();

    try {
      await action.waitFor(/taking instructions in 4 slots/, 30_000);
      await sensor.waitFor(/running 1 triggers/, 30_000);
      // Good work all along: an instruction every 200 ms whose effect is one line in `marks`, and events.
      feeder = (async () => {
        for (let n = 0; feeding; n++) {
          const mark = `good-${n}`;
          good.push(await create(scene, { agent_id: ACTION, plugin_id: "shell-command", input_data: { command: ["sh", "-c", `echo ${mark} >> ${scene.marks}`] }, correlation_id: mark }));
          await Bun.sleep(200);
        }
      })();
      const storedEvents = () => readDb(scene.orchestratorDb, (db) => db.query<{ n: number }, [string]>("SELECT count(*) AS n FROM events WHERE agent_id = ?").get(SENSOR)!.n);
      await waitUntil(() => (storedEvents() >= 100 ? true : undefined), "the first events stored");

      for (let round = 1; round <= ROUNDS; round++) {
        await brokenConfigs(scene, round);
        await brokenManifests(scene);
        await maliciousArchives(scene);
        await refusedInstructions(scene, round);
        await injectedRow(scene, round);
        await wrongInstructions(scene);
        await corruptedAnswers(scene);
        await goodInstall(scene, round);
      }
      await stillServing(scene);

      // Stop feeding; every good instruction ends, completed, its mark written once.
      feeding = false;
      await feeder;
      const finals = await waitUntil(
        () => {
          const rows = readDb(scene.orchestratorDb, (db) =>
            db.query<{ status: string; correlation_id: string }, [string]>("SELECT status, correlation_id FROM instructions WHERE agent_id = ? AND correlation_id LIKE 'good-%'").all(ACTION),
          );
          return rows.length === good.length && rows.every((row) => FINAL.has(row.status)) ? rows : undefined;
        },
        "every good instruction to end",
        60_000,
      );
      const lines = readFileSync(scene.marks, "utf8").split("\n").filter(Boolean);
      const marked = new Set(lines);
      expect(finals.filter((row) => row.status !== "completed")).toEqual([]);
      await countedAsErrors(scene);

      // The sensor stops cleanly, delivering what it spooled; every event it emitted is stored once.
      sensor.kill("SIGTERM");
      expect(await sensor.exited).toBe(0);
      expect(spooledSeqs(sensorHome(dir, SENSOR))).toEqual([]);
      const stored = readDb(scene.orchestratorDb, (db) =>
        db.query<{ id: string; seq: number }, [string]>("SELECT id, json_extract(body, '$.data.seq') AS seq FROM events WHERE agent_id = ?").all(SENSOR),
      );
      // The burst trigger numbers its events 1, 2, 3, …: the highest stored is how many it emitted.
      const emitted = Math.max(0, ...stored.map((row) => row.seq));
      const storedSeqs = new Set(stored.map((row) => row.seq));

      console.log(`bad inputs (${scene.barrage.length}):\n  ${scene.barrage.join("\n  ")}`);
      const unusable = (id: string) => scene.proxy.unusable(id).malformed + scene.proxy.unusable(id).too_large;
      account("bad-input/events", {
        emitted,
        delivered: Array.from({ length: emitted }, (_, i) => i + 1).filter((seq) => storedSeqs.has(seq)).length,
        duplicated: duplicates(stored.map((row) => row.id)) + duplicates(stored.map((row) => row.seq)),
        extra: { rounds: ROUNDS, bad_inputs: scene.barrage.length, proxy_garbage: unusable(SENSOR) },
      });
      account("bad-input/instructions", {
        emitted: good.length,
        delivered: finals.filter((row) => row.status === "completed" && marked.has(row.correlation_id)).length,
        duplicated: duplicates(lines),
        extra: { rounds: ROUNDS, bad_inputs: scene.barrage.length, proxy_garbage: unusable(ACTION) },
      });

      action.kill("SIGTERM");
      expect(await action.exited).toBe(0);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`${message}\n\n${logs()}`, { cause: error });
    } finally {
      feeding = false;
      await feeder.catch(() => {});
      scene.proxy.stop();
      scene.archives.stop();
    }
  },
  scenarioTimeout(ROUNDS * ROUND_MS),
);
