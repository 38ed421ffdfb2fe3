/**
 * The barrage at the agents' wire: (c) instructions the admin API refuses, slipped into polls by the proxy
 * and written straight into the orchestrator's SQLite, and well-formed ones neither agent can carry out;
 * (d) corrupted answers to every kind of call. Each is recorded in `scene.barrage` with its message.
 */
import { Database } from "bun:sqlite";
import { expect } from "bun:test";
import { existsSync } from "node:fs";
import { waitUntil } from "../../support/process.ts";
import { readDb } from "../_flows.ts";
import { unescaped, waitForNew } from "./logs.ts";
import { GARBAGE, NINE_MIB, type Fault, type Route } from "./proxy.ts";
import { ACTION, admin, create, ended, SENSOR, type Scene } from "./scene.ts";

/** (c) Instructions the admin API refuses: refused there, and refused by the agent when the proxy slips them into a poll. */
export async function refusedInstructions(scene: Scene, round: number): Promise<void> {
  const refused: Array<{ name: string; instruction: Record<string, unknown>; admin?: RegExp; agent: RegExp }> = [
    { name: "missing plugin_id", instruction: { id: `bad-${round}-1`, instruction_type: "execute" }, admin: /plugin_id/, agent: /instruction\.plugin_id: Invalid key: Expected "plugin_id" but received undefined/ },
    {
      name: "wrong type",
      instruction: { id: `bad-${round}-2`, plugin_id: "echo", instruction_type: "execute", timeout_seconds: "soon" },
      admin: /timeout_seconds/,
      agent: /instruction\.timeout_seconds: Invalid type: Expected number but received "soon"/,
    },
    {
      name: "unknown instruction type",
      instruction: { id: `bad-${round}-3`, plugin_id: "echo", instruction_type: "explode" },
      admin: /instruction_type/,
      agent: /instruction\.instruction_type: Invalid type: Expected \("execute" \| [^\n]* but received "explode"/,
    },
    // The admin API makes the id itself; only a hostile orchestrator can send this one.
    { name: "id not a string", instruction: { id: 42, plugin_id: "echo", instruction_type: "execute" }, agent: /instruction\.id: Invalid type: Expected string but received 42/ },
    {
      name: "huge parameters",
      instruction: { id: `bad-${round}-5`, plugin_id: "echo", instruction_type: "execute", input_data: { blob: "x".repeat(NINE_MIB) } },
      admin: /"error":"too_large"/,
      agent: /answer larger than 8388608 bytes/,
    },
  ];
  const { action } = scene.agents;
  for (const bad of refused) {
    if (bad.admin) {
      const { id: _id, ...body } = bad.instruction;
      const answer = await admin(scene, "/instructions", { method: "POST", body: JSON.stringify({ agent_id: ACTION, ...body }) });
      expect(answer.status, `${bad.name}: ${JSON.stringify(answer.body)}`).toBeOneOf([400, 413]);
      expect(JSON.stringify(answer.body)).toMatch(bad.admin);
    }
    const from = action.output().length;
    scene.proxy.plan({ agent: ACTION, route: "poll", inject: bad.instruction });
    const seen = await waitForNew(action, from, new RegExp(`instruction poll failed[^\\n]*${bad.agent.source}`), `the agent refusing ${bad.name}`);
    scene.barrage.push(`instruction ${bad.name}: ${seen[0].replace(/^.*error="/, "")}`);
    // A poll that works in between, so the next refusal is failure 1 again (the poller logs failures 1, 2, 4, …).
    const ok = scene.proxy.okPolls(ACTION);
    await waitUntil(() => (scene.proxy.okPolls(ACTION) > ok ? true : undefined), "a good poll after the refusal");
  }
}

/**
 * (c) A row the admin API would refuse, written straight into the orchestrator's SQLite: the real orchestrator
 * delivers it, the agent refuses each delivery as malformed, and nothing else suffers. Nobody can answer it (the
 * agent does not take what it cannot parse, id included), so it comes back every lease until an admin cancels it
 * (here, after two deliveries) or, failing that, it has been delivered --max-deliveries times (10) and fails as
 * undeliverable.
 */
export async function injectedRow(scene: Scene, round: number): Promise<void> {
  const id = `sqlite-bad-${round}`;
  const { action } = scene.agents;
  const from = action.output().length;
  const db = new Database(scene.orchestratorDb);
  try {
    db.run("PRAGMA busy_timeout = 5000");
    const now = Date.now();
    db.run(
      `INSERT INTO instructions (id, agent_id, plugin_id, instruction_type, plugin_configuration, input_data, timeout_seconds, max_retries,
         retry_count, priority, priority_rank, status, created_at, updated_at)
       VALUES (?, ?, 'echo', 'execute', '{}', '{}', 'soon', 0, 0, 'normal', 1, 'pending', ?, ?)`,
      [id, ACTION, now, now],
    );
  } finally {
    db.close();
  }
  const delivered = () => readDb(scene.orchestratorDb, (read) => read.query<{ n: number }, [string]>("SELECT delivery_count AS n FROM instructions WHERE id = ?").get(id)!.n);
  // Delivered, refused, and delivered again once its lease lapsed: refused every time, cleanly.
  await waitUntil(() => (delivered() >= 2 ? true : undefined), `${id} delivered twice`);
  // A delivery rides on a poll or, as often, on the acknowledgement of a good instruction's result (chaining).
  const refusal =
    /the agent cannot use request="\[(?:GET|POST)\] "\/agents\/v1\/bad-input-action\/instructions(?:\/[^"/]+\/result)?"" status=200 problem="(?:next_)?instruction\.timeout_seconds: Invalid type: Expected number but received "soon"/g;
  const refusals = await waitUntil(() => {
    const seen = unescaped(action.output().slice(from)).match(refusal) ?? [];
    return seen.length >= 2 ? seen : undefined;
  }, `${id} refused at each delivery`);
  const cancelled = await admin(scene, `/instructions/${id}/cancel`, { method: "POST" });
  expect(cancelled.status).toBe(200);
  const done = await ended(scene, id);
  expect(done.status).toBe("cancelled");
  scene.injectedRows.push(id);
  scene.barrage.push(`SQLite row with timeout_seconds "soon": delivered ${delivered()} times, refused each time (${refusals[0]!.replace(/^.*problem="(next_)?/, "")}), then cancelled`);
}

/** (c) Well-formed instructions neither agent can carry out: a failed result naming the problem. */
export async function wrongInstructions(scene: Scene): Promise<void> {
  const wrong: Array<{ name: string; body: Record<string, unknown>; expect: RegExp }> = [
    { name: "unknown plugin", body: { plugin_id: "no-such-plugin" }, expect: /plugin "no-such-plugin" is not installed on this agent/ },
    { name: "a trigger as an action", body: { plugin_id: "cpu-monitor" }, expect: /plugin "cpu-monitor" is a trigger plugin, not an action/ },
    { name: "parameter of the wrong type", body: { plugin_id: "echo", input_data: { sleep_ms: "soon" } }, expect: /invalid parameter sleep_ms: expected a number of milliseconds/ },
    { name: "command not allowed", body: { plugin_id: "shell-command", input_data: { command: ["rm", "-rf", scene.dir] } }, expect: /permission denied: command "rm" is blocked/ },
    { name: "command of the wrong type", body: { plugin_id: "shell-command", input_data: { command: 42 } }, expect: /invalid parameter command: expected a string or a list of strings/ },
    {
      name: "input over the plugin's cap",
      body: { plugin_id: "shell-command", input_data: { command: ["sh", "-c", "cat"], input: "y".repeat(3 * 1024 * 1024) } },
      expect: /invalid parameter input: 3145728 bytes is more than the agent's max_input_size/,
    },
    { name: "an action for the sensor", body: { agent_id: SENSOR, plugin_id: "echo" }, expect: /a sensor agent runs no actions; send execute instructions to an action agent/ },
  ];
  for (const bad of wrong) {
    const done = await ended(scene, await create(scene, { agent_id: ACTION, ...bad.body }));
    expect(done.status, `${bad.name}: ${JSON.stringify(done).slice(0, 2000)}`).toBe("failed");
    expect(done.error_message).toMatch(bad.expect);
    scene.barrage.push(`instruction ${bad.name}: ${done.error_message}`);
  }
  expect(existsSync(scene.dir)).toBe(true);
}

/** (d) Corrupted answers to every kind of call; the orchestrator did the work each time, the agent never heard. */
export async function corruptedAnswers(scene: Scene): Promise<void> {
  const routes: Array<[string, Route]> = [
    [ACTION, "heartbeat"],
    [ACTION, "poll"],
    [ACTION, "update"],
    [ACTION, "result"],
    [SENSOR, "heartbeat"],
    [SENSOR, "events"],
  ];
  const corrupted = routes.flatMap(([agent, route]) => GARBAGE.map((kind): Fault => ({ agent, route, garbage: kind })));
  scene.proxy.plan(...corrupted);
  await waitUntil(() => (scene.proxy.pending() === 0 ? true : undefined), "every corrupted answer served", 60_000);
  for (const fault of corrupted) scene.barrage.push(`corrupted answer to ${fault.agent} ${fault.route}: ${"garbage" in fault ? fault.garbage : "instruction"}`);
}
