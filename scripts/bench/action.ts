/**
 * Action agent figures (issue 5), each from several rounds against a real loop on loopback:
 * dispatch latency (admin create → plugin start, p50 and p99), echo throughput at concurrency 1
 * and 8, agent RSS idle and with 8 running tasks, time from process start to first heartbeat.
 */
import { percentile, rssMb, startLoop, type Loop } from "./_loop.ts";

export interface AgentFigure {
  figure: string;
  unit: "ms" | "MB" | "/s" | "%";
  target: string;
  samples: number[];
}

export interface ActionBenchOptions {
  binary: string;
  env: Record<string, string | undefined>;
  rounds: number;
}

const LATENCY_INSTRUCTIONS = 50;
const THROUGHPUT_INSTRUCTIONS = 400;

export async function actionFigures(options: ActionBenchOptions): Promise<AgentFigure[]> {
  const p50: number[] = [];
  const p99: number[] = [];
  const throughput: Record<number, number[]> = { 1: [], 8: [] };
  const bare: number[] = [];
  const idle: number[] = [];
  const busy: number[] = [];
  const firstBeat: number[] = [];
  for (const slots of [1, 8] as const) {
    for (let round = 0; round < options.rounds; round++) {
      const loop = await startLoop(options.binary, { slots, env: options.env });
      try {
        firstBeat.push(await loop.startAgent());
        if (slots === 8) {
          await Bun.sleep(1_000);
          bare.push(rssMb(loop.agentPid));
          await waitIdle(loop);
          idle.push(rssMb(loop.agentPid));
          const latencies = await dispatchLatencies(loop);
          p50.push(percentile(latencies, 50));
          p99.push(percentile(latencies, 99));
          busy.push(await rssWithRunning(loop, 8));
        }
        throughput[slots]!.push(await echoThroughput(loop));
      } finally {
        await loop.close();
      }
    }
  }
  return [
    { figure: "action: dispatch latency p50 (create → plugin start)", unit: "ms", target: "≤ 20 ms", samples: p50 },
    { figure: "action: dispatch latency p99", unit: "ms", target: "≤ 100 ms", samples: p99 },
    { figure: "action: echo throughput, concurrency 1", unit: "/s", target: "-", samples: throughput[1]! },
    { figure: "action: echo throughput, concurrency 8", unit: "/s", target: "≥ 1000 /s", samples: throughput[8]! },
    { figure: "action: agent RSS idle, no plugin loaded yet", unit: "MB", target: "≤ 40 MB", samples: bare },
    { figure: "action: agent RSS idle, echo worker loaded", unit: "MB", target: "≤ 40 MB", samples: idle },
    { figure: "action: agent RSS with 8 running tasks", unit: "MB", target: "-", samples: busy },
    { figure: "action: process start → first heartbeat", unit: "ms", target: "≤ 100 ms", samples: firstBeat },
  ];
}

const echo = (loop: Loop, input: Record<string, unknown> = {}) =>
  loop.admin("/instructions", { agent_id: loop.agentId, plugin_id: "echo", instruction_type: "execute", input_data: input });

/** Polls the admin API; `everyMs` stays well above the work measured so the bench does not load the machine. */
async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, everyMs = 5, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await Bun.sleep(everyMs);
  }
}

/** Idle once its first instruction has run (plugin host warm), then settled for a moment. */
async function waitIdle(loop: Loop): Promise<void> {
  const { id } = await echo(loop);
  await waitFor(async () => ((await loop.admin(`/instructions/${id}`)).status === "completed" ? true : undefined), "the warm-up instruction");
  await Bun.sleep(1_000);
}

/** One instruction at a time, so each finds the agent's long poll open. */
async function dispatchLatencies(loop: Loop): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < LATENCY_INSTRUCTIONS; i++) {
    const { id } = await echo(loop);
    const done = await waitFor(async () => {
      const instruction = await loop.admin(`/instructions/${id}`);
      return instruction.status === "completed" ? instruction : undefined;
    }, `instruction ${id}`);
    out.push(Date.parse(done.started_at) - Date.parse(done.created_at));
  }
  return out;
}

async function echoThroughput(loop: Loop): Promise<number> {
  const started = performance.now();
  await Promise.all(Array.from({ length: THROUGHPUT_INSTRUCTIONS }, () => echo(loop)));
  await waitFor(
    async () => {
      const { instructions } = await loop.admin(`/instructions?agent_id=${loop.agentId}&status=completed&limit=10000`);
      return instructions.length >= THROUGHPUT_INSTRUCTIONS ? true : undefined;
    },
    "the throughput batch",
    100,
  );
  return THROUGHPUT_INSTRUCTIONS / ((performance.now() - started) / 1000);
}

async function rssWithRunning(loop: Loop, count: number): Promise<number> {
  await Promise.all(Array.from({ length: count }, () => echo(loop, { sleep_ms: 3_000 })));
  await waitFor(async () => {
    const { instructions } = await loop.admin(`/instructions?agent_id=${loop.agentId}&status=executing&limit=100`);
    return instructions.length >= count ? true : undefined;
  }, `${count} running instructions`);
  const rss = rssMb(loop.agentPid);
  await waitFor(async () => {
    const { instructions } = await loop.admin(`/instructions?agent_id=${loop.agentId}&status=executing&limit=100`);
    return instructions.length === 0 ? true : undefined;
  }, "the running instructions to end");
  return rss;
}
