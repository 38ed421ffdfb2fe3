#!/usr/bin/env bun
/**
 * Compiles the one `stavily` executable for each release target into dist/ and writes dist/SHA256SUMS.
 *
 *   bun scripts/build.ts                                  all five targets
 *   bun scripts/build.ts --target linux-x64,darwin-arm64  a subset (repeatable or comma list)
 *   bun scripts/build.ts --outdir out --no-bytecode
 *
 * Targets build one after another: each compile holds the whole bundle plus a ~100 MB runtime in memory,
 * and CI machines have two cores. SOURCE_DATE_EPOCH fixes the build date for reproducible builds.
 *
 * Bytecode is on by default: it halves start-up for about 2 MB per binary. Measured on linux-x64
 * (Bun 1.4.5, 2 cores, hyperfine -N, 5 warm-up + 40 runs, two rounds; re-check with
 * `npm run bench` against `npm run bench -- --no-bytecode`); median of each round, then min–max:
 *                                  with --bytecode                without
 *   stavily version                 9.7, 10.2 ms  (8.8–11.4)     19.3, 19.6 ms  (17.3–21.3)
 *   stavily config validate -c …   17.9, 18.7 ms  (16.7–26.0)     34.5, 34.8 ms  (33.0–44.4)
 *   size linux-x64                 111.4 MB                       109.4 MB (windows-x64: 117.6 vs 115.5)
 * Cross-compiled bytecode builds for all five targets; only linux-x64 could be run here.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, renameSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import pkg from "../package.json" with { type: "json" };

/**
 * Bundled into every binary; the first is what the executable runs. Worker entrypoints follow so
 * `new Worker(…)` finds them inside the compiled binary, embedded at their path relative to the
 * entrypoints' common root (src/): src/core/plugin/worker/_entry-url.ts names that path.
 */
export const entrypoints = ["src/cli.ts", "src/core/plugin/worker/entry.ts"];

export const TARGETS = ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64", "windows-x64"] as const;
export type Target = (typeof TARGETS)[number];

/** See the start-up figures above. */
export const BYTECODE_DEFAULT = true;

export const ROOT = resolve(import.meta.dir, "..");

/** A mistake in how the script was called: exit code 2, like the CLI. */
export class BuildUsageError extends Error {
  override name = "BuildUsageError";
}

/** A script's entry: exit 0/1, or 2 for a usage error; the message alone, without a stack. */
export async function runScript(main: (argv: string[]) => Promise<number>): Promise<void> {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = error instanceof BuildUsageError ? 2 : 1;
  }
}

/** What `stavily version` reports; the same for every target of one build. */
export interface BuildFacts {
  version: string;
  commit: string;
  buildDate: string;
}

export interface BuildOptions {
  outdir: string;
  facts: BuildFacts;
  bytecode?: boolean;
}

export interface BuiltBinary {
  target: Target;
  path: string;
  bytes: number;
  seconds: number;
}

export function binaryName(target: Target): string {
  return `stavily-${target}${target.startsWith("windows-") ? ".exe" : ""}`;
}

export function hostTarget(): Target {
  const os = process.platform === "win32" ? "windows" : process.platform;
  const target = `${os}-${process.arch}`;
  if (!isTarget(target)) throw new BuildUsageError(`build: this machine (${target}) is not a release target`);
  return target;
}

function isTarget(name: string): name is Target {
  return (TARGETS as readonly string[]).includes(name);
}

/** `--target a,b --target c` → [a, b, c]; none given means all. */
export function parseTargets(values: string[]): Target[] {
  const names = values.flatMap((value) => value.split(",")).map((name) => name.trim()).filter(Boolean);
  if (names.length === 0) return [...TARGETS];
  const unknown = names.filter((name) => !isTarget(name));
  if (unknown.length > 0) {
    throw new BuildUsageError(`build: unknown target ${unknown.map((n) => `"${n}"`).join(", ")}; known: ${TARGETS.join(", ")}`);
  }
  return [...new Set(names as Target[])];
}

export function buildFacts(env: Record<string, string | undefined> = process.env): BuildFacts {
  return { version: pkg.version, commit: gitCommit(), buildDate: buildDate(env.SOURCE_DATE_EPOCH) };
}

/** RFC 3339 in UTC to the second; SOURCE_DATE_EPOCH (reproducible-builds.org) wins over the clock. */
export function buildDate(sourceDateEpoch?: string): string {
  let date = new Date();
  if (sourceDateEpoch !== undefined && sourceDateEpoch !== "") {
    if (!/^\d+$/.test(sourceDateEpoch)) {
      throw new BuildUsageError(`build: SOURCE_DATE_EPOCH must be whole seconds since 1970, got "${sourceDateEpoch}"`);
    }
    date = new Date(Number(sourceDateEpoch) * 1000);
  }
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Untracked files count as changes too: they may be sources the binary bundled. */
function gitCommit(): string {
  const git = (...args: string[]) => {
    try {
      const result = Bun.spawnSync(["git", ...args], { cwd: ROOT, stderr: "ignore" });
      return result.success ? result.stdout.toString().trim() : undefined;
    } catch {
      return undefined; // no git on this machine
    }
  };
  const commit = git("rev-parse", "--short=12", "HEAD");
  if (!commit) return "unknown";
  return git("status", "--porcelain") ? `${commit}-dirty` : commit;
}

export async function buildTarget(target: Target, options: BuildOptions): Promise<BuiltBinary> {
  const started = performance.now();
  const path = join(options.outdir, binaryName(target));
  const bytecode = options.bytecode ?? BYTECODE_DEFAULT;
  const defines = {
    STAVILY_BUILD_VERSION: options.facts.version,
    STAVILY_BUILD_COMMIT: options.facts.commit,
    STAVILY_BUILD_DATE: options.facts.buildDate,
    STAVILY_BUILD_TARGET: target,
  };
  mkdirSync(options.outdir, { recursive: true });
  const result = await Bun.build({
    entrypoints: entrypoints.map((entry) => join(ROOT, entry)),
    compile: {
      target: `bun-${target}`,
      outfile: path,
      // An agent runs in whatever directory it was started from; a stray .env or bunfig.toml
      // there must not change its environment or preload code into it.
      autoloadDotenv: false,
      autoloadBunfig: false,
    },
    minify: true,
    // Bytecode for ES modules needs format esm, and src/cli.ts uses top-level await anyway.
    format: "esm",
    bytecode,
    define: Object.fromEntries(Object.entries(defines).map(([name, value]) => [name, JSON.stringify(value)])),
    throw: false,
  });
  if (!result.success) {
    const logs = result.logs.map((log) => `  ${String(log)}`).join("\n");
    throw new Error(`build: ${binaryName(target)} failed:\n${logs}`);
  }
  return { target, path, bytes: statSync(path).size, seconds: (performance.now() - started) / 1000 };
}

const BINARY = /^stavily-[a-z0-9]+-[a-z0-9]+(\.exe)?$/;

/**
 * Sums every binary in outdir, not just the ones built now, so a one-target build leaves a file that
 * still matches everything beside it. Written to a temp name first so a reader never sees half a file.
 */
export async function writeChecksums(outdir: string): Promise<string[]> {
  const names = readdirSync(outdir).filter((name) => BINARY.test(name) && statSync(join(outdir, name)).isFile()).sort();
  const lines: string[] = [];
  for (const name of names) lines.push(`${await sha256(join(outdir, name))}  ${name}`);
  const temp = join(outdir, `.SHA256SUMS.${process.pid}`);
  await Bun.write(temp, lines.map((line) => `${line}\n`).join(""));
  renameSync(temp, join(outdir, "SHA256SUMS"));
  return names;
}

async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of Bun.file(path).stream()) hash.update(chunk);
  return hash.digest("hex");
}

export function formatBuilt(binary: BuiltBinary): string {
  const name = binaryName(binary.target).padEnd(26);
  return `${name}${(binary.bytes / 1e6).toFixed(1).padStart(7)} MB${binary.seconds.toFixed(1).padStart(7)} s`;
}

const USAGE = "usage: bun scripts/build.ts [--target <os>-<arch>[,…]]… [--outdir dist] [--no-bytecode]";

async function main(argv: string[]): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args: argv,
      options: {
        target: { type: "string", multiple: true, default: [] },
        outdir: { type: "string", default: "dist" },
        "no-bytecode": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new BuildUsageError(`build: ${(error as Error).message}\n${USAGE}`, { cause: error });
  }
  if (flags.help) {
    console.log(`${USAGE}\ntargets: ${TARGETS.join(", ")}`);
    return 0;
  }
  const targets = parseTargets(flags.target);
  const outdir = resolve(flags.outdir);
  const facts = buildFacts();
  const bytecode = BYTECODE_DEFAULT && !flags["no-bytecode"];
  console.log(`stavily ${facts.version} (commit ${facts.commit}, built ${facts.buildDate}, bytecode ${bytecode ? "on" : "off"})`);
  try {
    for (const target of targets) console.log(formatBuilt(await buildTarget(target, { outdir, facts, bytecode })));
  } finally {
    // Even after a failed target, the sums must match the binaries that are there.
    const summed = await writeChecksums(outdir);
    console.log(`${join(flags.outdir, "SHA256SUMS")}: ${summed.length} binar${summed.length === 1 ? "y" : "ies"}`);
  }
  return 0;
}

if (import.meta.main) await runScript(main);
