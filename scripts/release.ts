#!/usr/bin/env bun
/**
 * Builds the release archives into dist/release/: for each target, stavily-<version>-<os>-<arch>.tar.gz
 * (.zip for Windows) holding the executable, README.md, LICENSE and the example configs, plus
 * SHA256SUMS over them and install.sh (deployments/install.sh) beside them.
 *
 *   bun scripts/release.ts                          build all five targets, then archive them
 *   bun scripts/release.ts --target linux-x64       a subset (repeatable or comma list)
 *   bun scripts/release.ts --no-build --bindir DIR  archive binaries already built into DIR
 *
 * Binaries are built with scripts/build.ts into --bindir (default dist/, with its SHA256SUMS). The
 * release directory is assembled beside the old one and swapped in by rename, so a reader sees the old
 * release or the whole new one; it holds exactly the targets of this run. Archives are reproducible:
 * sorted entries, owner 0, fixed modes, and every time SOURCE_DATE_EPOCH (the build date without it).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { tarGz, zip, type Entry } from "./_archive.ts";
import { binaryName, buildFacts, buildTarget, BuildUsageError, formatBuilt, parseTargets, ROOT, runScript, writeChecksums, type BuildFacts, type Target } from "./build.ts";

/** What every archive holds besides the executable: path in the repository → path in the archive. */
export const EXTRAS: Record<string, string> = {
  "README.md": "README.md",
  LICENSE: "LICENSE",
  "deployments/config/sensor.yaml": "config/sensor.yaml",
  "deployments/config/action.yaml": "config/action.yaml",
};

/** Published beside the archives (and summed with them). */
export const INSTALLER = "deployments/install.sh";

export function archiveName(version: string, target: Target): string {
  return `stavily-${version}-${target}.${target.startsWith("windows-") ? "zip" : "tar.gz"}`;
}

export interface ReleaseOptions {
  targets: Target[];
  /** Where the binaries are (built, unless `build` is false). */
  bindir: string;
  /** The release directory, replaced as a whole. */
  outdir: string;
  facts: BuildFacts;
  build?: boolean;
  bytecode?: boolean;
  log?: (line: string) => void;
}

export interface Release {
  outdir: string;
  archives: string[];
}

export async function release(options: ReleaseOptions): Promise<Release> {
  const log = options.log ?? (() => {});
  if (options.build !== false) {
    try {
      for (const target of options.targets) log(formatBuilt(await buildTarget(target, { outdir: options.bindir, facts: options.facts, bytecode: options.bytecode })));
    } finally {
      await writeChecksums(options.bindir);
    }
  }
  const mtime = Math.floor(Date.parse(options.facts.buildDate) / 1000);
  const staging = join(dirname(options.outdir), `.${basename(options.outdir)}.${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    const archives: string[] = [];
    for (const target of options.targets) {
      const binary = join(options.bindir, binaryName(target));
      if (!existsSync(binary)) throw new BuildUsageError(`release: ${binary} does not exist; build it first or leave out --no-build`);
      const name = archiveName(options.facts.version, target);
      const entries = archiveEntries(name, target, readFileSync(binary));
      writeFileSync(join(staging, name), name.endsWith(".zip") ? zip(entries, mtime) : tarGz(entries, mtime));
      archives.push(name);
      log(`${name}`);
    }
    writeFileSync(join(staging, basename(INSTALLER)), readFileSync(join(ROOT, INSTALLER)), { mode: 0o755 });
    const summed = [...archives, basename(INSTALLER)].sort();
    const sums = summed.map((name) => `${sha256(readFileSync(join(staging, name)))}  ${name}\n`).join("");
    writeFileSync(join(staging, "SHA256SUMS"), sums);
    swapIn(staging, options.outdir);
    return { outdir: options.outdir, archives };
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
}

/** Sorted, under one top directory named like the archive, so extracting never spills files. */
export function archiveEntries(archive: string, target: Target, binary: Uint8Array): Entry[] {
  const top = archive.replace(/\.(tar\.gz|zip)$/, "");
  const entries: Entry[] = [
    { name: `${top}/`, mode: 0o755 },
    { name: `${top}/config/`, mode: 0o755 },
    { name: `${top}/${target.startsWith("windows-") ? "stavily.exe" : "stavily"}`, data: binary, mode: 0o755 },
  ];
  for (const [from, to] of Object.entries(EXTRAS)) entries.push({ name: `${top}/${to}`, data: readFileSync(join(ROOT, from)), mode: 0o644 });
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** rename(2) cannot replace a non-empty directory: move the old one aside first, then remove it. */
function swapIn(staging: string, outdir: string): void {
  const old = `${staging}.old`;
  if (existsSync(outdir)) renameSync(outdir, old);
  renameSync(staging, outdir);
  rmSync(old, { recursive: true, force: true });
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

const USAGE = "usage: bun scripts/release.ts [--target <os>-<arch>[,…]]… [--outdir dist/release] [--bindir dist] [--no-build] [--no-bytecode]";

async function main(argv: string[]): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args: argv,
      options: {
        target: { type: "string", multiple: true, default: [] },
        outdir: { type: "string", default: "dist/release" },
        bindir: { type: "string", default: "dist" },
        "no-build": { type: "boolean", default: false },
        "no-bytecode": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new BuildUsageError(`release: ${(error as Error).message}\n${USAGE}`, { cause: error });
  }
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const facts = buildFacts();
  console.log(`stavily ${facts.version} release (commit ${facts.commit}, built ${facts.buildDate})`);
  const done = await release({
    targets: parseTargets(flags.target),
    bindir: resolve(flags.bindir),
    outdir: resolve(flags.outdir),
    facts,
    build: !flags["no-build"],
    bytecode: flags["no-bytecode"] ? false : undefined,
    log: (line) => console.log(line),
  });
  console.log(`${join(flags.outdir, "SHA256SUMS")}: ${done.archives.length} archive${done.archives.length === 1 ? "" : "s"} and ${basename(INSTALLER)}`);
  return 0;
}

if (import.meta.main) await runScript(main);
