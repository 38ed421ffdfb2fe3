#!/usr/bin/env bun
/**
 * Measures the compiled binary and prints one table: figure | target | median | spread | runs.
 *
 *   bun scripts/bench.ts                builds the host binary into a temp dir, then measures it
 *   bun scripts/bench.ts --no-build     measures dist/stavily-<host> (and dist/'s sizes) from an earlier `npm run build`
 *   bun scripts/bench.ts --no-bytecode  builds without bytecode, to re-check the choice in build.ts
 *   bun scripts/bench.ts --only sensor,plugins --rounds 3   a subset of the groups
 *
 * Groups: binary (start-up, RSS, size of every target, built from this source),
 * action (dispatch latency, throughput, first heartbeat, idle RSS), sensor (events/s, idle CPU and
 * RSS), plugins (RSS of one more Worker or stdio plugin).
 *
 * Targets are not enforced yet; they are printed beside each figure. Add a figure by appending to
 * `benchmarks`. Runs happen in an empty temp dir with STAVILY_* cleared, as an agent would start.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { parseArgs } from "node:util";
import { BYTECODE_DEFAULT, BuildUsageError, ROOT, TARGETS, binaryName, buildFacts, buildTarget, hostTarget, runScript, type Target } from "./build.ts";
import { peakRssMb, summarize, timer, wallTimesMs, type RunOptions } from "./_measure.ts";
import { actionFigures } from "./bench/action.ts";
import { pluginFigures } from "./bench/plugins.ts";
import { sensorFigures } from "./bench/sensor.ts";

interface Context extends RunOptions {
  /** The host binary under test. */
  binary: string;
  /** Every binary whose size is reported: the one under test and those in dist/. */
  binaries: string[];
}

interface Measured {
  figure: string;
  samples: number[];
}

interface Benchmark {
  unit: "ms" | "MB";
  /** Goal for this figure, shown beside it; not enforced yet. */
  target: string;
  measure(ctx: Context): Promise<Measured[]> | Measured[];
}

const SENSOR_CONFIG = join(ROOT, "deployments/config/sensor.yaml");

const benchmarks: Benchmark[] = [
  {
    unit: "ms",
    target: "< 100 ms",
    measure: async (ctx) => [{ figure: "startup: version", samples: await wallTimesMs([ctx.binary, "version"], ctx) }],
  },
  {
    unit: "ms",
    target: "< 100 ms",
    measure: async (ctx) => [
      {
        figure: "startup: config validate sensor.yaml",
        samples: await wallTimesMs([ctx.binary, "config", "validate", "-c", SENSOR_CONFIG], ctx),
      },
    ],
  },
  {
    unit: "MB",
    target: "-",
    // Fewer runs: memory barely varies between runs, unlike time.
    measure: (ctx) => [{ figure: "peak RSS: version", samples: peakRssMb([ctx.binary, "version"], { ...ctx, runs: 5, warmup: 1 }) }],
  },
  {
    unit: "MB",
    target: "< 120 MB",
    measure: (ctx) => ctx.binaries.map((path) => ({ figure: `size: ${sizeLabel(path)}`, samples: [statSync(path).size / 1e6] })),
  },
];

function sizeLabel(path: string): string {
  const inDist = relative(join(ROOT, "dist"), path) === basename(path);
  return inDist ? `dist/${basename(path)}` : basename(path);
}

/**
 * One binary per release target for the size figures, built from this source (dist/ may be stale);
 * with --no-build, dist/'s.
 */
async function everyTarget(host: { target: Target; path: string }, outdir: string, noBuild: boolean): Promise<string[]> {
  const paths: string[] = [];
  for (const target of TARGETS) {
    if (target === host.target) paths.push(host.path);
    else if (noBuild) {
      const inDist = join(ROOT, "dist", binaryName(target));
      if (existsSync(inDist)) paths.push(inDist);
    } else {
      console.log(`building ${binaryName(target)} for its size`);
      paths.push((await buildTarget(target, { outdir, facts: buildFacts() })).path);
    }
  }
  return paths;
}

function cleanEnv(): Record<string, string | undefined> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("STAVILY_")));
  return { ...env, NO_COLOR: "1" };
}

function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) => row.map((cell, column) => cell.padEnd(widths[column]!)).join(" | ").trimEnd();
  return [line(rows[0]!), widths.map((width) => "-".repeat(width)).join("-|-"), ...rows.slice(1).map(line)].join("\n");
}

async function main(argv: string[]): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args: argv,
      options: {
        "no-build": { type: "boolean", default: false },
        "no-bytecode": { type: "boolean", default: false },
        runs: { type: "string", default: "20" },
        warmup: { type: "string", default: "3" },
        rounds: { type: "string", default: "3" },
        only: { type: "string" },
      },
      strict: true,
    }).values;
  } catch (error) {
    throw new BuildUsageError(`bench: ${(error as Error).message}`, { cause: error });
  }
  const runs = Number(flags.runs);
  const warmup = Number(flags.warmup);
  const rounds = Number(flags.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new BuildUsageError("bench: --rounds must be a positive integer");
  const GROUPS = ["binary", "action", "sensor", "plugins"];
  const groups = flags.only === undefined ? GROUPS : flags.only.split(",");
  for (const group of groups) {
    if (!GROUPS.includes(group)) throw new BuildUsageError(`bench: --only takes ${GROUPS.join(", ")}, got "${group}"`);
  }
  if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(warmup) || warmup < 0) {
    throw new BuildUsageError("bench: --runs must be a positive integer and --warmup a whole number");
  }
  const target = hostTarget();
  const work = mkdtempSync(join(tmpdir(), "stavily-bench-"));
  try {
    let binary = join(ROOT, "dist", binaryName(target));
    if (flags["no-build"]) {
      if (!existsSync(binary)) throw new BuildUsageError(`bench: --no-build but ${relative(ROOT, binary)} is missing; run npm run build first`);
    } else {
      const bytecode = BYTECODE_DEFAULT && !flags["no-bytecode"];
      const built = await buildTarget(target, { outdir: join(work, "bin"), facts: buildFacts(), bytecode });
      binary = built.path;
      console.log(`built ${binaryName(target)} (bytecode ${bytecode ? "on" : "off"}) in ${built.seconds.toFixed(1)} s`);
    }
    const cwd = join(work, "cwd");
    mkdirSync(cwd);
    const binaries = groups.includes("binary") ? await everyTarget({ target, path: binary }, join(work, "targets"), flags["no-build"]) : [binary];
    const ctx: Context = { binary, binaries, runs, warmup, cwd, env: cleanEnv() };
    console.log(`measuring ${binary} with ${timer()}, ${warmup} warm-up + ${runs} runs\n`);
    const rows = [["figure", "target", "median", "spread (min–max)", "runs"]];
    const results: Array<{ figure: string; unit: string; target: string; median: number; min: number; max: number; samples: number[] }> = [];
    const add = (figure: string, unit: string, target: string, samples: number[]) => {
      const { median, min, max, runs: count } = summarize(samples);
      const spread = count > 1 ? `${min.toFixed(1)}–${max.toFixed(1)} ${unit}` : "-";
      rows.push([figure, target, `${median.toFixed(1)} ${unit}`, spread, String(count)]);
      results.push({ figure, unit, target, median, min, max, samples });
    };
    if (groups.includes("binary")) {
      for (const benchmark of benchmarks) {
        for (const { figure, samples } of await benchmark.measure(ctx)) add(figure, benchmark.unit, benchmark.target, samples);
      }
    }
    if (groups.includes("action")) {
      console.log(`action agent: ${rounds} rounds per figure against stavily orchestrator on loopback`);
      for (const item of await actionFigures({ binary, env: ctx.env ?? {}, rounds })) add(item.figure, item.unit, item.target, item.samples);
    }
    if (groups.includes("plugins")) {
      console.log(`plugins: ${rounds} rounds per figure, a sensor with 1 then 9 quiet triggers`);
      for (const item of await pluginFigures({ binary, env: ctx.env ?? {}, rounds })) add(item.figure, item.unit, item.target, item.samples);
    }
    if (groups.includes("sensor")) {
      console.log(`sensor: ${rounds} rounds per figure against stavily orchestrator on loopback`);
      for (const item of await sensorFigures({ binary, env: ctx.env ?? {}, rounds })) add(item.figure, item.unit, item.target, item.samples);
    }
    console.log(formatTable(rows));
    const out = join(ROOT, "dist", "bench");
    mkdirSync(out, { recursive: true });
    const file = join(out, `bench-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    await Bun.write(file, `${JSON.stringify({ binary, target, rounds, runs, results }, null, 2)}\n`);
    console.log(`\nwrote ${relative(ROOT, file)}`);
    return 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) await runScript(main);
