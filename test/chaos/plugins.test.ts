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
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOrchestrator } from "../support/agents.ts";
import { hostBinary } from "../support/binary.ts";
import { account, chaosRandom, duplicates, scale, scenarioTimeout } from "../support/chaos.ts";
import { killAll } from "../support/process.ts";
import { createLab, healthy, installPlugins, stopsPromptly, withAgent } from "./_plugins/agents.ts";
import { classify, goodOne, LEVELS, plan, type Level, type Planned } from "./_plugins/mix.ts";
import { describeProcesses, killQuietly, leftAfterWaiting, pidsWith, pluginPids, rssMiB, runsOf } from "./_plugins/processes.ts";
import { findPluginStats, finishedLines } from "./_plugins/reports.ts";

const ADMIN = "plugins-chaos-admin-token-0123";
const INSTRUCTIONS = scale({ short: 30, full: 400 });
const COPIES = scale({ short: 4, full: 16 });
const SLOTS = 4;
const random = chaosRandom();
/** The fork storms' children are `sleep <marker>`, one marker per level: found by it in /proc, and by nothing else. */
const MARKER_BASE = `86400.${random.int(100_000, 999_999)}`;
const marker = (level: Level) => `${MARKER_BASE}${["worker", "process", "strict"].indexOf(level)}`;
/** Every level's mix, drawn up front in one order, so a seed replays the same mixes however the tests interleave. */
const PLANS = Object.fromEntries(
  LEVELS.map((level) => [level, Array.from({ length: INSTRUCTIONS }, (_, n) => plan(level, n, { random, copies: COPIES, marker }))]),
) as Record<Level, Planned[]>;

const dir = mkdtempSync(join(tmpdir(), "stavily-chaos-plugins-"));
let lab: ReturnType<typeof createLab>;

beforeAll(async () => {
  console.log(`chaos[plugins] seed ${random.seed} (STAVILY_CHAOS_SEED replays it)`);
  const binary = await hostBinary();
  const orchestrator = await startOrchestrator(binary, { db: join(dir, "orchestrator.db"), adminToken: ADMIN });
  const plugins = join(dir, "plugins");
  installPlugins(plugins, COPIES);
  lab = createLab({ dir, plugins, binary, orchestrator, adminToken: ADMIN });
});

afterAll(async () => {
  await killAll();
  for (const pid of pidsWith(MARKER_BASE)) killQuietly(pid);
  rmSync(dir, { recursive: true, force: true });
});

describe.concurrent.each(LEVELS)("level %s: an action agent under misbehaving plugins", (level) => {
  test(
    `${INSTRUCTIONS} instructions, a random mix of good and misbehaving: each ends once, the good ones complete, nothing is left behind`,
    async () => {
      const agentId = `chaos-plugins-${level}`;
      const agent = await lab.startAgent(agentId, level, "action", { action: { max_concurrent_tasks: SLOTS, cancel_grace_period: "300ms" } });
      const pid = agent.process.proc.pid;
      await withAgent(`agent ${agentId}`, agent, async () => {
        await agent.process.waitFor(/taking instructions in \d+ slots?/);
        // A first good instruction warms the agent up (the steady plugin started) before RSS is read.
        const warm = goodOne("steady", "warm");
        warm.id = await lab.create(agentId, warm, 10);
        expect((await lab.finals(agentId, [warm.id], 30_000)).get(warm.id).status).toBe("completed");
        const rssBefore = rssMiB(pid);

        const planned = PLANS[level];
        for (const next of planned) next.id = await lab.create(agentId, next);
        // The agent answers its health probe all through the storm.
        const done = await lab.finals(agentId, planned.map((p) => p.id), scale({ short: 90_000, full: 900_000 }), () => healthy(agent));
        await healthy(agent);

        // Each copy once more with a good instruction: it completes unless the copy is quarantined.
        const after = Array.from({ length: COPIES }, (_, n) => goodOne(`misbehave-${n}`, `after-${n}`));
        for (const p of after) p.id = await lab.create(agentId, p, 10);
        const afterDone = await lab.finals(agentId, after.map((p) => p.id), 60_000);

        // What each instruction ended as, by mode.
        const { table, collateral, problems, quarantined } = classify(planned, done, after, afterDone);
        console.log(`chaos[plugins-${level}] outcomes: ${[...table].sort().map(([key, count]) => `${key} ×${count}`).join(", ")}`);

        // Fork storms' children die with the instance that started them; the agent has not grown without bound.
        const rssAfter = rssMiB(pid);
        const aliveMidway = await leftAfterWaiting(marker(level));
        if (aliveMidway.length > 0) problems.push(`left behind while the agent runs: ${aliveMidway.length}: ${describeProcesses(aliveMidway)}`);
        await stopsPromptly(agent);
        const remaining = await leftAfterWaiting(marker(level), agent.home);
        if (remaining.length > 0) problems.push(`left behind after the agent stopped: ${remaining.length}: ${describeProcesses(remaining)}`);

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
      });
    },
    scenarioTimeout(scale({ short: 30_000, full: 600_000 })),
  );
});

// ---------------------------------------------------------------------------------------------
// The sensor side

const TALLY = scale({ short: 300, full: 1000 });
/** Each its own instance, so each its own crash record: one quarantined leaves the others misbehaving. */
const UNRULY = Array.from({ length: scale({ short: 3, full: 6 }) }, (_, n) => `unruly-${n}`);

describe.concurrent.each(LEVELS)("level %s: a sensor whose triggers misbehave", (level) => {
  test(
    `${UNRULY.length} unruly triggers crash, exit, hang, throw and flood while tally's ${TALLY} events all arrive exactly once`,
    async () => {
      const agentId = `chaos-plugins-sensor-${level}`;
      const triggers = [
        { plugin: "tally", interval: "100ms", config: { per_run: 5, total: TALLY } },
        ...UNRULY.map((id) => ({ plugin: "unruly", id, interval: "100ms" })),
      ];
      const agent = await lab.startAgent(agentId, level, "sensor", {
        api: { retry_delay: "100ms" },
        sensor: { batch_size: 100, flush_interval: "200ms", triggers },
        // The grace period between a hung run's abort and its kill (the agents share one setting).
        action: { cancel_grace_period: "300ms" },
      });
      await withAgent(`sensor ${agentId}`, agent, async () => {
        let events: Awaited<ReturnType<typeof lab.storedEvents>> = [];
        const deadline = Date.now() + scale({ short: 40_000, full: 120_000 });
        let checked = 0;
        for (;;) {
          events = await lab.storedEvents(agentId, "tally.tick");
          if (new Set(events.map((event) => event.data.seq)).size >= TALLY || Date.now() > deadline) break;
          // The agent answers its health probe while its triggers misbehave.
          if (checked++ % 10 === 0) await healthy(agent);
          await Bun.sleep(200);
        }
        await healthy(agent);
        const status = (await (await fetch(`${agent.health}/status`)).json()) as any;
        await stopsPromptly(agent);
        // Everything spooled is delivered by now; a duplicate would show.
        events = await lab.storedEvents(agentId, "tally.tick");

        const unruly = findPluginStats(status, "unruly");
        const remaining = await leftAfterWaiting(undefined, agent.home);
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
            unruly_events: (await lab.storedEvents(agentId, "unruly.ok")).length,
            leftovers: remaining.length,
          },
        });
        // The unruly triggers did misbehave, at rate.
        expect(unruly.failures).toBeGreaterThan(UNRULY.length);
        expect(describeProcesses(remaining)).toBe("");
      });
    },
    scenarioTimeout(scale({ short: 30_000, full: 120_000 })),
  );
});
