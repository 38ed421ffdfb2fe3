import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { open, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";

/**
 * Rotated files are `<file>.<stamp>[-NNN][.gz]` with stamp `2025-01-02T03-04-05.678Z` (UTC, colons
 * replaced so the name is safe everywhere). `-NNN` separates rotations within the same millisecond.
 */
const STAMP = String.raw`(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z)(?:-(\d+))?`;
const TMP_SUFFIX = ".gz.tmp";

export interface Backup {
  /** Rotation time, read from the name: mtimes change when files are copied or restored. */
  time: number;
  seq: number;
  /** The uncompressed file, if it exists. */
  plain?: string;
  /** The finished `.gz`, if it exists. */
  gz?: string;
}

export interface BackupPolicy {
  max_backups: number;
  max_age: number;
  compress: boolean;
}

function stampOf(date: Date): string {
  return date.toISOString().replaceAll(":", "-");
}

/** A name no other backup has, in rotation order. */
export function backupName(file: string, date: Date): string {
  const base = `${file}.${stampOf(date)}`;
  let name = base;
  for (let seq = 1; existsSync(name) || existsSync(`${name}.gz`); seq++) name = `${base}-${String(seq).padStart(3, "0")}`;
  return name;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Backups of `file`, newest first, plus leftover temp files of interrupted compressions. */
export async function listBackups(file: string): Promise<{ backups: Backup[]; temps: string[] }> {
  const dir = dirname(file);
  const pattern = new RegExp(`^${escapeRegExp(basename(file))}\\.${STAMP}(\\.gz|${escapeRegExp(TMP_SUFFIX)})?$`);
  const byName = new Map<string, Backup>();
  const temps: string[] = [];
  for (const name of await readdir(dir)) {
    const match = pattern.exec(name);
    if (!match) continue;
    const [, stamp = "", seq = "0", suffix] = match;
    const path = join(dir, name);
    if (suffix === TMP_SUFFIX) {
      temps.push(path);
      continue;
    }
    const key = `${stamp}-${seq}`;
    const backup = byName.get(key) ?? { time: Date.parse(stamp.replace(/T(\d\d)-(\d\d)-(\d\d)/, "T$1:$2:$3")), seq: Number(seq) };
    if (suffix === ".gz") backup.gz = path;
    else backup.plain = path;
    byName.set(key, backup);
  }
  const backups = [...byName.values()].sort((a, b) => b.time - a.time || b.seq - a.seq);
  return { backups, temps };
}

/**
 * Gzips through a temp name and renames only once the data is synced, so a crash leaves either no `.gz`
 * or a complete one, and the original is removed only after that.
 */
export async function gzipFile(path: string): Promise<string> {
  const tmp = `${path}${TMP_SUFFIX}`;
  const target = `${path}.gz`;
  try {
    await pipeline(createReadStream(path), createGzip(), createWriteStream(tmp, { mode: 0o640 }));
    const handle = await open(tmp, "r+");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, target);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  await rm(path);
  return target;
}

/** Deletes backups past the count or age limit, then compresses the survivors. */
export async function maintainBackups(file: string, policy: BackupPolicy, now = Date.now()): Promise<void> {
  const { backups, temps } = await listBackups(file);
  // Only one maintenance runs at a time per file, so any temp file now is from a crash.
  for (const temp of temps) await rm(temp, { force: true });
  const keep: Backup[] = [];
  for (const [index, backup] of backups.entries()) {
    const tooMany = policy.max_backups > 0 && index >= policy.max_backups;
    const tooOld = policy.max_age > 0 && now - backup.time > policy.max_age;
    if (tooMany || tooOld) {
      for (const path of [backup.plain, backup.gz]) if (path) await rm(path, { force: true });
    } else {
      keep.push(backup);
    }
  }
  if (!policy.compress) return;
  for (const backup of keep) {
    if (!backup.plain) continue;
    // Both exist when a crash came between the rename and the delete: the .gz is complete.
    if (backup.gz) await rm(backup.plain, { force: true });
    else await gzipFile(backup.plain);
  }
}
