/**
 * What one more plugin costs (issue 9): a sensor with one quiet trigger, then the same sensor with
 * EXTRA more, each measured once its memory has settled. The difference divided by EXTRA is the
 * cost of one plugin: a Worker in the agent's process, or a stdio child (its own RSS counted too).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rssMb, startBenchOrchestrator, writeBenchConfig } from "./_loop.ts";
import type { AgentFigure } from "./action.ts";

const FIXTURES = join(import.meta.dir, "fixtures", "plugins");
const EXTRA = 8;

type Kind = "quiet-bun" | "quiet-py";

export async function pluginFigures(options: { binary: string; env: Record<string, string | undefined>; rounds: number }): Promise<AgentFigure[]> {
  const worker: number[] = [];
  const stdio: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    worker.push(await perPlugin(options, "quiet-bun"));
    stdio.push(await perPlugin(options, "quiet-py"));
  }
  return [
    { figure: "plugin cost: RSS per extra Worker trigger", unit: "MB", target: "≤ 10 MB", samples: worker },
    { figure: "plugin cost: RSS per extra stdio trigger (python)", unit: "MB", target: "≤ 15 MB", samples: stdio },
  ];
}

async function perPlugin(options: { binary: string; env: Record<string, string | undefined> }, kind: Kind): Promise<number> {
  const one = await settledRss(options, kind, 1);
  const many = await settledRss(options, kind, 1 + EXTRA);
  return (many - one) / EXTRA;
}

/** RSS of the sensor and its children, MB, once it has moved less than 0.5 MB in 2 s. */
async function settledRss(options: { binary: string; env: Record<string, string | undefined> }, kind: Kind, triggers: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "stavily-bench-plugins-"));
  const env = { ...options.env, STAVILY_ADMIN_TOKEN: "bench-admin-0123456789" };
  const { proc: orchestrator, url } = await startBenchOrchestrator(options.binary, dir, env);
  const config = writeBenchConfig(join(dir, "sensor.yaml"), {
    type: "sensor",
    id: "bench-plugins",
    dir,
    url,
    lines: [
      "plugins:",
      `  directory: ${FIXTURES}`,
      "sensor:",
      "  triggers:",
      ...Array.from({ length: triggers }, (_, n) => [`    - plugin: ${kind}`, `      id: ${kind}-${n + 1}`, "      interval: 1s"]).flat(),
    ],
  });
  const sensor = Bun.spawn([options.binary, "sensor", "-c", config], { cwd: dir, env: options.env, stdout: "ignore", stderr: "ignore" });
  try {
    const total = () => rssMb(sensor.pid) + childrenOf(sensor.pid).reduce((sum, pid) => sum + safeRss(pid), 0);
    if (kind === "quiet-py") await until(() => childrenOf(sensor.pid).length >= triggers, `${triggers} stdio children`);
    await Bun.sleep(5_000);
    let previous = total();
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
      await Bun.sleep(2_000);
      const now = total();
      if (Math.abs(now - previous) < 0.5) return now;
      previous = now;
    }
    return previous;
  } finally {
    sensor.kill("SIGTERM");
    await sensor.exited;
    orchestrator.kill("SIGTERM");
    await orchestrator.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every descendant of `pid` (Linux /proc): stdio plugins may sit under a prlimit or sandbox wrapper. */
function childrenOf(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
    } catch {
      // the process ended while we looked
    }
  }
  const found: number[] = [];
  const visit = (parent: number) => {
    for (const child of parents.get(parent) ?? []) {
      found.push(child);
      visit(child);
    }
  };
  visit(pid);
  return found;
}

function safeRss(pid: number): number {
  try {
    return rssMb(pid);
  } catch {
    return 0;
  }
}

async function until(probe: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await Bun.sleep(100)) if (probe()) return;
  throw new Error(`bench: no ${what} within 30 s`);
}
