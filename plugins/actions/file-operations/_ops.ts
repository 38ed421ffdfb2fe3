/**
 * The file-system effects, on paths _paths.ts has already resolved and confined. Every new file is
 * made under a fresh temporary name in its final directory (O_EXCL, never following a link) and
 * renamed into place, so readers see the old file or the new one, never half of it. Modes are
 * set on open handles, and setuid/setgid bits are never copied.
 */
import { randomBytes } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { chmod, link, lstat, mkdir, open, readdir, rename, rm, rmdir, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { conflict, refused } from "./_errors.ts";

const CHUNK = 1 << 20;

/** Only permission bits and sticky survive a copy or a chosen mode. */
const safeMode = (mode: number) => mode & 0o1777;

export const tempName = (target: string) => join(dirname(target), `.${basename(target)}.stavily-${randomBytes(6).toString("hex")}.tmp`);

export async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/** Puts `temp` at `target`: replacing what is there, or only if nothing is (link fails on an existing name). */
async function place(temp: string, target: string, overwrite: boolean): Promise<void> {
  try {
    if (overwrite) {
      await rename(temp, target);
    } else {
      await link(temp, target);
      await unlink(temp);
    }
  } catch (error) {
    await unlink(temp).catch(() => {});
    if ((error as NodeJS.ErrnoException).code === "EEXIST") throw conflict("already_exists", `${target} exists (set overwrite: true to replace it)`);
    throw error;
  }
}

/** Writes `data` to `target` atomically. A symlink at `target` is replaced, not written through. */
export async function writeAtomic(target: string, data: Uint8Array, options: { mode?: number; overwrite: boolean }): Promise<{ mode: number; created: boolean }> {
  const existing = await lstatOrNull(target);
  if (existing?.isDirectory()) throw conflict("wrong_type", `${target} is a directory`);
  if (existing && !options.overwrite) throw conflict("already_exists", `${target} exists (set overwrite: true to replace it)`);
  const mode = safeMode(options.mode ?? (existing?.isFile() ? existing.mode : 0o644));
  const temp = tempName(target);
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    await writeAll(handle, data);
    await finish(handle, mode, existing?.isFile() ? existing : undefined);
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw error;
  }
  await handle.close();
  await place(temp, target, options.overwrite);
  await syncDir(dirname(target));
  return { mode, created: !existing };
}

/** Copies a regular file into `target` (atomically); returns the bytes copied. */
export async function copyFileAtomic(source: string, target: string, overwrite: boolean, signal: AbortSignal): Promise<number> {
  const existing = await lstatOrNull(target);
  if (existing?.isDirectory()) throw conflict("wrong_type", `${target} is a directory`);
  if (existing && !overwrite) throw conflict("already_exists", `${target} exists (set overwrite: true to replace it)`);
  const temp = tempName(target);
  const bytes = await copyContent(source, temp, signal);
  await place(temp, target, overwrite);
  await syncDir(dirname(target));
  return bytes;
}

/** Copies a directory tree (files and directories only) under a temporary name, then renames it into place. */
export async function copyTree(source: string, target: string, signal: AbortSignal): Promise<number> {
  if (await lstatOrNull(target)) throw conflict("already_exists", `${target} exists (directories are never merged or replaced)`);
  await checkTree(source);
  const temp = tempName(target);
  try {
    const bytes = await copyDir(source, temp, signal);
    if (await lstatOrNull(target)) throw conflict("already_exists", `${target} appeared during the copy`);
    await rename(temp, target);
    return bytes;
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
}

/** Moves an entry; across file systems, copies then deletes. */
export async function moveEntry(source: string, target: string, overwrite: boolean, signal: AbortSignal): Promise<void> {
  const from = await lstat(source);
  const existing = await lstatOrNull(target);
  if (existing && (from.isDirectory() || existing.isDirectory())) throw conflict("already_exists", `${target} exists (directories are never merged or replaced)`);
  if (existing && !overwrite) throw conflict("already_exists", `${target} exists (set overwrite: true to replace it)`);
  try {
    if (!overwrite && !from.isDirectory()) {
      await link(source, target);
      await unlink(source);
    } else {
      await rename(source, target);
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw conflict("already_exists", `${target} exists (set overwrite: true to replace it)`);
    if (code !== "EXDEV" && code !== "EPERM") throw error;
    // link() across file systems (EXDEV), or on one that has no hard links (EPERM): copy, then delete.
    if (from.isSymbolicLink()) throw refused(`source ${source}: a symlink cannot be moved to another file system`);
    if (from.isDirectory()) await copyTree(source, target, signal);
    else await copyFileAtomic(source, target, overwrite, signal);
    await rm(source, { recursive: from.isDirectory() });
  }
  await syncDir(dirname(target));
}

export async function deleteEntry(target: string, info: Stats, recursive: boolean): Promise<void> {
  if (!info.isDirectory()) return unlink(target);
  if (recursive) return rm(target, { recursive: true }); // unlinks symlinks inside, never follows them
  try {
    await rmdir(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOTEMPTY") throw conflict("not_empty", `${target} is a directory that is not empty (set recursive: true)`);
    throw error;
  }
}

/** chmod on a handle opened without following a final symlink: a link swapped in is refused, not followed. */
export async function chmodNoFollow(target: string, mode: number): Promise<number> {
  let handle: FileHandle;
  try {
    handle = await open(target, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EACCES") throw error;
    // Not readable (mode 0000, say): by path, after checking it is still not a link.
    const info = await lstat(target);
    if (info.isSymbolicLink()) throw refused(`${target} became a symlink`);
    await chmod(target, mode);
    return info.mode & 0o7777;
  }
  try {
    const before = (await handle.stat()).mode & 0o7777;
    await handle.chmod(mode);
    return before;
  } finally {
    await handle.close();
  }
}

export async function makeDir(target: string, mode: number): Promise<boolean> {
  try {
    await mkdir(target, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    if (!(await lstat(target)).isDirectory()) throw conflict("wrong_type", `${target} exists and is not a directory`);
    return false;
  }
  await chmodNoFollow(target, mode); // exactly `mode`, whatever the umask
  return true;
}

async function copyDir(source: string, target: string, signal: AbortSignal): Promise<number> {
  await mkdir(target, { mode: 0o700 });
  let bytes = 0;
  for (const name of await readdir(source)) {
    const from = join(source, name);
    const info = await lstat(from);
    bytes += info.isDirectory() ? await copyDir(from, join(target, name), signal) : await copyContent(from, join(target, name), signal);
  }
  await chmod(target, safeMode((await lstat(source)).mode));
  return bytes;
}

/** Refuses a tree with anything but files and directories: a copied link could point anywhere. */
async function checkTree(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const info = await lstat(path);
    if (info.isDirectory()) await checkTree(path);
    else if (!info.isFile()) throw refused(`source contains ${path}, which is ${info.isSymbolicLink() ? "a symlink" : "not a regular file"}; only files and directories are copied`);
  }
}

async function copyContent(source: string, temp: string, signal: AbortSignal): Promise<number> {
  const input = await open(source, constants.O_RDONLY | constants.O_NOFOLLOW);
  let output: FileHandle | undefined;
  try {
    const info = await input.stat();
    if (!info.isFile()) throw refused(`source ${source} is not a regular file`);
    output = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    const buffer = Buffer.allocUnsafe(CHUNK);
    let bytes = 0;
    for (;;) {
      signal.throwIfAborted();
      const { bytesRead } = await input.read(buffer, 0, CHUNK, null);
      if (bytesRead === 0) break;
      await writeAll(output, buffer.subarray(0, bytesRead));
      bytes += bytesRead;
    }
    await finish(output, safeMode(info.mode));
    return bytes;
  } catch (error) {
    if (output) await unlink(temp).catch(() => {});
    throw error;
  } finally {
    await output?.close().catch(() => {});
    await input.close();
  }
}

async function writeAll(handle: FileHandle, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset, null);
    offset += bytesWritten;
  }
}

/** Mode, owner (kept when the agent runs as root and replaces someone else's file), and durable. */
async function finish(handle: FileHandle, mode: number, replacing?: Stats): Promise<void> {
  await handle.chmod(mode);
  if (replacing && process.getuid?.() === 0 && (replacing.uid !== 0 || replacing.gid !== 0)) await handle.chown(replacing.uid, replacing.gid);
  await handle.sync();
}

/** Makes a rename durable; best effort (some file systems refuse fsync on a directory). */
async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, constants.O_RDONLY);
    await handle.sync().finally(() => handle.close());
  } catch {
    // not supported here: the rename itself is still atomic
  }
}
