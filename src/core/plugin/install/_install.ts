/**
 * Installs one plugin: fetch the source into a private stage, check it, bundle it if it needs it, move it into
 * `versions/<version>/`, and only then flip `current`. Whatever fails before the flip leaves the installed
 * version, its directory and its pointer untouched, so a failed update keeps the old plugin running.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { StavilyError } from "../../errors.ts";
import { bundleIfNeeded, type PluginManifestInfo, type ValidatePlugin } from "./_bundle.ts";
import { copyDirectory } from "./_copy.ts";
import { copyArchive, download, verifySha256 } from "./_download.ts";
import { below, relativeSegments } from "./_entry-path.ts";
import { extractArchive } from "./_extract.ts";
import { type GitRef, gitCheckout } from "./_git.ts";
import { lockPlugin } from "./_lock.ts";
import { DEFAULT_LIMITS, type InstallLimits } from "./_options.ts";
import {
  checkName,
  describe,
  INSTALL_RECORD,
  type InstalledPlugin,
  type InstallRecord,
  isDir,
  pluginDir,
  readCurrent,
  STAGING_DIR,
  versionDir,
  writeCurrent,
  writeJsonAtomic,
} from "./_store.ts";
import { redactUrl } from "./_url.ts";

/** Where a plugin comes from. `subDirectory` names the plugin's directory inside the source. */
export type InstallSource =
  | { type: "directory"; path: string; subDirectory?: string }
  | { type: "archive"; path: string; sha256?: string; subDirectory?: string }
  | {
      type: "archive_url";
      url: string;
      /** Required unless `allowUnverified`. */
      sha256?: string;
      /** Install an archive URL without a checksum; set by the operator's configuration only. */
      allowUnverified?: boolean;
      subDirectory?: string;
    }
  | { type: "git"; url: string; ref: GitRef; subDirectory?: string };

export interface InstallOptions {
  /** The agent home's plugins directory. */
  pluginsDir: string;
  /** Reads the staged plugin's manifest (plugin.yaml) and throws if it is not valid. */
  validate: ValidatePlugin;
  /** Refuse a plugin whose manifest id differs (the instruction's plugin_id). */
  expectedId?: string;
  /** Refuse a plugin whose manifest version differs. */
  expectedVersion?: string;
  /** Install over the same version when it is already current; otherwise that is refused. */
  replace?: boolean;
  limits?: Partial<InstallLimits>;
  /** Clock for `installed_at` (tests). */
  now?: () => Date;
}

/** Installs the plugin at `source` and makes it current; returns it as installed. */
export async function installPlugin(source: InstallSource, options: InstallOptions): Promise<InstalledPlugin> {
  const limits: InstallLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const pluginsDir = path.resolve(options.pluginsDir);
  const staging = path.join(pluginsDir, STAGING_DIR);
  await fs.mkdir(staging, { recursive: true, mode: 0o750 });
  const stage = await fs.mkdtemp(path.join(staging, "install-"));
  try {
    return await stageAndPlace(source, options, limits, pluginsDir, stage);
  } catch (error) {
    if (error instanceof StavilyError) throw inSourceTerms(error, source, stage);
    throw new StavilyError("plugin", `cannot install plugin from ${describeSource(source)}: ${(error as Error).message}`, { cause: error });
  } finally {
    await fs.rm(stage, { recursive: true, force: true });
  }
}

/**
 * A refusal raised inside the stage names the stage's files (`.staging/install-x/download`, `…/tree/plugin.yaml`),
 * which are deleted as the install fails and mean nothing to whoever asked for it: they are named after the source
 * as it was given (the URL, the archive, the directory) instead.
 */
function inSourceTerms(error: StavilyError, source: InstallSource, stage: string): StavilyError {
  const shown = describeSource(source);
  const root = source.type === "directory" ? path.join(path.resolve(source.path), source.subDirectory ?? "") : undefined;
  const inside = root === undefined ? `${shown}: ` : `${root}${path.sep}`;
  const rename = (text: string) =>
    text
      .replaceAll(`${path.join(stage, "tree")}${path.sep}`, inside)
      .replaceAll(`${path.join(stage, "checkout")}${path.sep}`, inside)
      .replaceAll(path.join(stage, "tree"), root ?? shown)
      .replaceAll(path.join(stage, "checkout"), shown)
      .replaceAll(path.join(stage, "download"), shown)
      .replaceAll(path.join(stage, "archive"), shown);
  const message = rename(error.message);
  const details = error.details.map(rename);
  if (message === error.message && details.every((detail, n) => detail === error.details[n])) return error;
  return new StavilyError(error.component, message, { cause: error, details, exitCode: error.exitCode });
}

/** The steps, in the order that keeps a failure harmless: nothing outside the stage changes before `place`. */
async function stageAndPlace(
  source: InstallSource,
  options: InstallOptions,
  limits: InstallLimits,
  pluginsDir: string,
  stage: string,
): Promise<InstalledPlugin> {
  const { root, record } = await fetchSource(source, stage, limits);
  const manifest = await validated(options, root);
  const bundle = await bundleIfNeeded(root, manifest, path.join(stage, "bundler"), limits.bundleTimeoutMs);
  const installedAt = (options.now ?? (() => new Date()))().toISOString();
  const installRecord: InstallRecord = { id: manifest.id, version: manifest.version, installed_at: installedAt, source: record };
  if (bundle !== undefined) installRecord.bundle = bundle;
  await writeJsonAtomic(path.join(root, INSTALL_RECORD), installRecord);
  // Only placing and flipping touch shared state; fetching, checking and bundling ran unlocked in the stage.
  const unlock = lockPlugin(pluginsDir, manifest.id);
  try {
    await place(pluginsDir, manifest, root, stage, options.replace ?? false);
    return await flip(pluginsDir, manifest, installedAt, record);
  } finally {
    unlock();
  }
}

function describeSource(source: InstallSource): string {
  switch (source.type) {
    case "directory":
    case "archive":
      return source.path;
    case "archive_url":
      return redactUrl(source.url);
    case "git":
      return `${redactUrl(source.url)} at ${source.ref.kind} ${source.ref.name}`;
  }
}

type Staged = { root: string; record: Record<string, unknown> };

async function fetchSource(source: InstallSource, stage: string, limits: InstallLimits): Promise<Staged> {
  const tree = path.join(stage, "tree");
  const sub = source.subDirectory;
  const withSub = (record: Record<string, unknown>) => (sub === undefined ? record : { ...record, sub_directory: sub });
  switch (source.type) {
    case "directory": {
      const from = path.resolve(source.path);
      if (!(await isDir(from))) throw new StavilyError("plugin", `plugin directory ${from} does not exist or is not a directory`);
      await copyDirectory(await subDirectory(from, sub, false), tree, limits);
      return { root: tree, record: withSub({ type: "directory", path: from }) };
    }
    case "archive": {
      const file = path.resolve(source.path);
      const copy = path.join(stage, "archive");
      const { sha256 } = await copyArchive(file, copy, limits.maxArchiveBytes);
      if (source.sha256 !== undefined) verifySha256(file, source.sha256, sha256);
      await extractArchive(copy, tree, limits);
      return { root: await subDirectory(tree, sub, true), record: withSub({ type: "archive", path: file, sha256 }) };
    }
    case "archive_url": {
      const shown = redactUrl(source.url);
      if (source.sha256 === undefined && source.allowUnverified !== true) {
        throw new StavilyError("plugin", `plugin archive ${shown}: a sha256 is required to install from a URL; refused`);
      }
      const file = path.join(stage, "download");
      const fetched = await download(source.url, file, { maxBytes: limits.maxArchiveBytes, timeoutMs: limits.downloadTimeoutMs });
      if (source.sha256 !== undefined) verifySha256(shown, source.sha256, fetched.sha256);
      await extractArchive(file, tree, limits);
      const record = { type: "archive_url", url: shown, sha256: fetched.sha256, verified: source.sha256 !== undefined };
      return { root: await subDirectory(tree, sub, true), record: withSub(record) };
    }
    case "git": {
      const checkout = path.join(stage, "checkout");
      const { commit } = await gitCheckout(source.url, source.ref, checkout, limits.gitTimeoutMs);
      await copyDirectory(await subDirectory(checkout, sub, false), tree, limits);
      const record = { type: "git", url: redactUrl(source.url), [source.ref.kind]: source.ref.name, commit };
      return { root: tree, record: withSub(record) };
    }
  }
}

/**
 * The plugin's directory inside `base`. A user's directory or a git checkout may contain links, so the real path
 * must stay inside `base`; an `extracted` archive contains none. Without `sub`, an extracted archive holding one
 * top-level directory and nothing else (as release archives do) is entered.
 */
async function subDirectory(base: string, sub: string | undefined, extracted: boolean): Promise<string> {
  if (sub === undefined) {
    if (!extracted) return base;
    const names = await fs.readdir(base);
    const only = names.length === 1 && names[0] !== undefined ? path.join(base, names[0]) : null;
    return only !== null && (await isDir(only)) ? only : base;
  }
  let dir: string;
  try {
    const segments = relativeSegments(sub);
    dir = segments === null ? base : below(base, segments);
  } catch (error) {
    throw new StavilyError("plugin", `sub_directory ${JSON.stringify(sub)}: ${(error as Error).message}`, { cause: error });
  }
  const real = await fs.realpath(dir).catch(() => null);
  const realBase = await fs.realpath(base);
  if (real === null || !(await isDir(real))) throw new StavilyError("plugin", `sub_directory ${JSON.stringify(sub)} is not a directory in the source`);
  if (!extracted && real !== realBase && !real.startsWith(realBase + path.sep)) {
    throw new StavilyError("plugin", `sub_directory ${JSON.stringify(sub)} leads outside the source through a link; refused`);
  }
  return real;
}

async function validated(options: InstallOptions, root: string): Promise<PluginManifestInfo> {
  let manifest: PluginManifestInfo;
  try {
    manifest = await options.validate(root);
  } catch (error) {
    if (error instanceof StavilyError) throw error;
    throw new StavilyError("plugin", `plugin manifest is not valid: ${(error as Error).message}`, { cause: error });
  }
  checkName("id", manifest.id);
  checkName("version", manifest.version);
  if (options.expectedId !== undefined && manifest.id !== options.expectedId) {
    throw new StavilyError("plugin", `the source holds plugin ${manifest.id}, not ${options.expectedId}; refused`);
  }
  if (options.expectedVersion !== undefined && manifest.version !== options.expectedVersion) {
    throw new StavilyError("plugin", `the source holds ${manifest.id} ${manifest.version}, not version ${options.expectedVersion}; refused`);
  }
  return manifest;
}

/** Moves the staged tree to `versions/<version>`. A leftover of an earlier failed install is replaced. */
async function place(pluginsDir: string, manifest: PluginManifestInfo, root: string, stage: string, replace: boolean) {
  const target = versionDir(pluginsDir, manifest.id, manifest.version);
  const pointer = await readCurrent(pluginsDir, manifest.id);
  if (await isDir(target)) {
    if (pointer?.version === manifest.version && !replace) {
      throw new StavilyError("plugin", `plugin ${manifest.id} ${manifest.version} is already installed`);
    }
    if (pointer?.previous === manifest.version) {
      throw new StavilyError("plugin", `plugin ${manifest.id} ${manifest.version} is the previous version; roll back to it instead`);
    }
    // Out of the way first (into the stage, which is deleted); the window is the two renames.
    await fs.rename(target, path.join(stage, "replaced"));
  }
  await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o750 });
  await fs.rename(root, target);
}

/** Points `current` at the new version and deletes versions older than the previous one. */
async function flip(pluginsDir: string, manifest: PluginManifestInfo, installedAt: string, source: Record<string, unknown>) {
  const pointer = await readCurrent(pluginsDir, manifest.id);
  const previous = pointer === null ? null : pointer.version === manifest.version ? pointer.previous : pointer.version;
  await writeCurrent(pluginsDir, manifest.id, { version: manifest.version, previous, installed_at: installedAt, source });
  const versions = path.join(pluginDir(pluginsDir, manifest.id), "versions");
  for (const name of await fs.readdir(versions)) {
    if (name !== manifest.version && name !== previous) await fs.rm(path.join(versions, name), { recursive: true, force: true });
  }
  const installed = await describe(pluginsDir, manifest.id);
  if (installed === null) throw new StavilyError("plugin", `plugin ${manifest.id} vanished while being installed`);
  return installed;
}
