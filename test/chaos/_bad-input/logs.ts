/**
 * Reading what the agents say: their logs (fields JSON-quoted), their metrics, their health; and the
 * checks made at the end of the scenario on both.
 */
import { expect } from "bun:test";
import { waitUntil, type TestProcess } from "../../support/process.ts";
import { readDb } from "../_flows.ts";
import { AGENT_IDS, type Scene } from "./scene.ts";

/** Log fields are JSON-quoted: `error="… \"x\" …"`. Patterns are written against the plain text. */
export function unescaped(text: string): string {
  return text.replaceAll('\\"', '"');
}

/** Waits for `pattern` in what `agent` wrote after `from` (an offset into its output). */
export function waitForNew(agent: TestProcess, from: number, pattern: RegExp, what: string): Promise<RegExpMatchArray> {
  return waitUntil(() => unescaped(agent.output().slice(from)).match(pattern) ?? undefined, what);
}

/** `text` as a regular expression matching it literally. */
export function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** The sum of stavily_http_requests_total over every call that ended with `code`. */
function metricsCount(text: string, code: string): number {
  return [...text.matchAll(/^stavily_http_requests_total\{(.*)\} (\d+)$/gm)]
    .filter(([, labels]) => /code="([^"]*)"/.exec(labels!)?.[1] === code)
    .reduce((sum, [, , value]) => sum + Number(value), 0);
}

/**
 * Every answer an agent could not use was counted as an error of its kind, exactly; each malformed one was
 * logged with what was wrong with it, and each kind of call that got an oversized one says so.
 */
export async function countedAsErrors(scene: Scene): Promise<void> {
  for (const type of ["action", "sensor"] as const) {
    const id = AGENT_IDS[type];
    const sent = scene.proxy.unusable(id);
    // Every delivery of a row written into the database was one more malformed answer.
    if (type === "action") {
      sent.malformed += readDb(scene.orchestratorDb, (db) =>
        db.query<{ n: number }, []>(`SELECT coalesce(sum(delivery_count), 0) AS n FROM instructions WHERE id IN (${scene.injectedRows.map(() => "?").join(", ")})`).get(...(scene.injectedRows as []))!.n,
      );
    }
    // The proxy counts an answer before the agent has read it: the agent's count may lag a moment behind.
    let metrics = "";
    const counted = () => ({ malformed: metricsCount(metrics, "malformed"), too_large: metricsCount(metrics, "too_large") });
    await waitUntil(async () => {
      metrics = await (await fetch(`http://127.0.0.1:${scene.health[type]}/metrics`)).text();
      return Bun.deepEquals(counted(), sent) ? true : undefined;
    }, `${type} metrics to count every unusable answer`, 10_000).catch(() => undefined);
    expect(counted(), `${type} metrics:\n${metrics}`).toEqual(sent);
    const output = unescaped(scene.agents[type].output());
    const logged = output.match(/the orchestrator sent an answer the agent cannot use request="\[[A-Z]+\] "\/agents\/v1\/[^"]+"" status=200 problem="[^"\n]+/g) ?? [];
    expect(logged.length).toBe(sent.malformed);
    const calls = type === "action" ? ["heartbeat", "instructions", "instructions/ins_[^\"]+", "instructions/ins_[^\"]+/result"] : ["heartbeat", "events"];
    for (const call of calls) expect(output).toMatch(new RegExp(`/agents/v1/${id}/${call}": 200, answer larger than 8388608 bytes`));
  }
}

export async function stillServing(scene: Scene): Promise<void> {
  for (const type of ["action", "sensor"] as const) {
    const base = `http://127.0.0.1:${scene.health[type]}`;
    expect(scene.agents[type].proc.exitCode).toBeNull();
    expect((await fetch(`${base}/health`)).status).toBe(200);
    await waitUntil(async () => ((await fetch(`${base}/ready`)).status === 200 ? true : undefined), `${type} ready`);
  }
}
