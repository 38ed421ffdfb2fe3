/**
 * The layout of installed plugins and the `current` pointer:
 *
 *   <pluginsDir>/<id>/versions/<version>/   one directory per kept version (the current one and the previous)
 *   <pluginsDir>/<id>/current               {version, previous, installed_at, source}, replaced atomically
 *   <pluginsDir>/.staging/<random>/         work in progress; nothing there is ever loaded
 *   <pluginsDir>/.locks/<id>.lock           held while one task changes plugin <id> (see _lock.ts)
 *
 * The pointer is the single switch: a version is installed only once `current` names it, and it is written to
 * a temporary file that is synced and renamed over the old one, so a crash leaves either the old or the new.
 */
import fs from "node:fs/promises";
import path from "node:path";
import * as v from "valibot";
import { StavilyError } from "../../errors.ts";
import { lockPlugin } from "./_lock.ts";

/** Ids and versions become directory names: letters, digits, `.`, `_`, `+`, `-`, not starting with a dot. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

export const STAGING_DIR = ".staging";
/** Written into every installed version: what was installed, from where, and the bundle to load if any. */
export const INSTALL_RECORD = ".stavily-install.json";

const SourceRecordSchema = v.record(v.string(), v.unknown());

const CurrentSchema = v.object({
  version: v.string(),
  previous: v.nullable(v.string()),
  installed_at: v.string(),
  source: SourceRecordSchema,
});
export type CurrentPointer = v.InferOutput<typeof CurrentSchema>;

const RecordSchema = v.object({
  id: v.string(),
  version: v.string(),
  installed_at: v.string(),
  source: SourceRecordSchema,
  bundle: v.optional(v.string()),
});
export type InstallRecord = v.InferOutput<typeof RecordSchema>;

export interface InstalledPlugin {
  id: string;
  version: string;
  /** The version a rollback returns to, when it is still on disk. */
  previous: string | null;
  /** Absolute directory of the current version. */
  dir: string;
  /** Absolute path of the install-time bundle to load instead of the manifest's entry, when there is one. */
  bundle?: string;
  installed_at: string;
  source: Record<string, unknown>;
}

export function checkName(what: "id" | "version", value: string): void {
  if (!SAFE_NAME.test(value)) {
    throw new StavilyError("plugin", `plugin ${what} ${JSON.stringify(value)} is not usable as a directory name (letters, digits, ".", "_", "+", "-")`);
  }
}

export function pluginDir(pluginsDir: string, id: string): string {
  checkName("id", id);
  return path.join(path.resolve(pluginsDir), id);
}

export function versionDir(pluginsDir: string, id: string, version: string): string {
  checkName("version", version);
  return path.join(pluginDir(pluginsDir, id), "versions", version);
}

/** The pointer of plugin `id`, or null when it is not installed. */
export async function readCurrent(pluginsDir: string, id: string): Promise<CurrentPointer | null> {
  const file = path.join(pluginDir(pluginsDir, id), "current");
  return readJson(file, CurrentSchema);
}

export async function writeCurrent(pluginsDir: string, id: string, pointer: CurrentPointer): Promise<void> {
  await writeJsonAtomic(path.join(pluginDir(pluginsDir, id), "current"), pointer);
}

export async function readRecord(dir: string): Promise<InstallRecord | null> {
  return readJson(path.join(dir, INSTALL_RECORD), RecordSchema);
}

/** Every installed plugin (those with a `current` pointer), sorted by id. */
export async function listInstalled(pluginsDir: string): Promise<InstalledPlugin[]> {
  let names: string[];
  try {
    names = await fs.readdir(pluginsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new StavilyError("plugin", `cannot list plugins in ${pluginsDir}: ${(error as Error).message}`, { cause: error });
  }
  const out: InstalledPlugin[] = [];
  for (const id of names.sort()) {
    if (!SAFE_NAME.test(id)) continue;
    const plugin = await describe(pluginsDir, id);
    if (plugin !== null) out.push(plugin);
  }
  return out;
}

/** Plugin `id` as installed now, or null. */
export async function describe(pluginsDir: string, id: string): Promise<InstalledPlugin | null> {
  const pointer = await readCurrent(pluginsDir, id);
  if (pointer === null) return null;
  const dir = versionDir(pluginsDir, id, pointer.version);
  const record = await readRecord(dir);
  const previousKept = pointer.previous !== null && (await isDir(versionDir(pluginsDir, id, pointer.previous)));
  return {
    id,
    version: pointer.version,
    previous: previousKept ? pointer.previous : null,
    dir,
    bundle: record?.bundle === undefined ? undefined : path.join(dir, record.bundle),
    installed_at: pointer.installed_at,
    source: pointer.source,
  };
}

/** Makes the previous version current again (and the current one previous, so a second rollback undoes it). */
export async function rollback(pluginsDir: string, id: string): Promise<InstalledPlugin> {
  checkName("id", id);
  const unlock = lockPlugin(pluginsDir, id);
  try {
    return await swapToPrevious(pluginsDir, id);
  } finally {
    unlock();
  }
}

async function swapToPrevious(pluginsDir: string, id: string): Promise<InstalledPlugin> {
  const pointer = await readCurrent(pluginsDir, id);
  if (pointer === null) throw new StavilyError("plugin", `cannot roll back plugin ${id}: it is not installed`);
  const previous = pointer.previous;
  if (previous === null || !(await isDir(versionDir(pluginsDir, id, previous)))) {
    throw new StavilyError("plugin", `cannot roll back plugin ${id}: no previous version is kept`);
  }
  const record = await readRecord(versionDir(pluginsDir, id, previous));
  await writeCurrent(pluginsDir, id, {
    version: previous,
    previous: pointer.version,
    installed_at: record?.installed_at ?? pointer.installed_at,
    source: record?.source ?? {},
  });
  const now = await describe(pluginsDir, id);
  if (now === null) throw new StavilyError("plugin", `plugin ${id} vanished during rollback`);
  return now;
}

/**
 * Uninstalls plugin `id`: the pointer goes first (from then on it is not installed), then its directory is moved
 * into staging and deleted. Returns false when it was not installed.
 */
export async function remove(pluginsDir: string, id: string): Promise<boolean> {
  checkName("id", id);
  const unlock = lockPlugin(pluginsDir, id);
  try {
    return await removeUnlocked(pluginsDir, id);
  } finally {
    unlock();
  }
}

async function removeUnlocked(pluginsDir: string, id: string): Promise<boolean> {
  const dir = pluginDir(pluginsDir, id);
  if (!(await isDir(dir))) return false;
  const wasInstalled = (await readCurrent(pluginsDir, id)) !== null;
  await fs.rm(path.join(dir, "current"), { force: true });
  const staging = path.join(path.resolve(pluginsDir), STAGING_DIR);
  await fs.mkdir(staging, { recursive: true, mode: 0o750 });
  const trash = await fs.mkdtemp(path.join(staging, `removed-${id}-`));
  await fs.rename(dir, path.join(trash, id));
  await fs.rm(trash, { recursive: true, force: true });
  return wasInstalled;
}

/** Deletes what interrupted installs left in staging. Call at start-up, before any install runs. */
export async function cleanStaging(pluginsDir: string): Promise<void> {
  await fs.rm(path.join(path.resolve(pluginsDir), STAGING_DIR), { recursive: true, force: true });
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const temp = `${file}.${process.pid}.${crypto.randomUUID()}.tmp`;
  const handle = await fs.open(temp, "wx", 0o640);
  try {
    await handle.writeFile(`${JSON.stringify(value, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
  await syncDir(path.dirname(file));
}

async function syncDir(dir: string): Promise<void> {
  // Makes the rename itself durable. Windows cannot open a directory for this (NTFS journals renames).
  if (process.platform === "win32") return;
  const handle = await fs.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function readJson<T>(file: string, schema: v.GenericSchema<unknown, T>): Promise<T | null> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new StavilyError("plugin", `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return v.parse(schema, JSON.parse(text));
  } catch (error) {
    throw new StavilyError("plugin", `${file} is corrupt: ${(error as Error).message}`, { cause: error });
  }
}

export async function isDir(dir: string): Promise<boolean> {
  const stat = await fs.lstat(dir).catch(() => null);
  return stat?.isDirectory() ?? false;
}
