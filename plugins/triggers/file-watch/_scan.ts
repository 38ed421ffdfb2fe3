/**
 * One snapshot of the watched files: path → size, mtime, inode. Walks each configured directory
 * with readdir (symlinked directories are not entered, so a loop or a link out of the tree is never
 * followed); a symlinked file counts only when its real path is inside a watched path, the same
 * rule ctx.fs applies to its granted roots.
 */
import type { Dirent } from "node:fs";
import { lstat, readdir, realpath, stat } from "node:fs/promises";
import { join, sep } from "node:path";

export interface FileInfo {
  size: number;
  mtimeMs: number;
  ino: number;
}

export interface ScanResult {
  files: Map<string, FileInfo>;
  /** max_files was reached: files beyond it were not seen, so none counts as deleted. */
  capped: boolean;
  /** Directories (as reported) that could not be read: files below them keep their last state. */
  unreadable: string[];
  /** Configured paths that do not exist now. */
  missing: string[];
  /** Symlinks skipped because they lead outside the watched paths. */
  outside: string[];
}

export interface ScanOptions {
  paths: readonly string[];
  globs: readonly string[];
  exclude: readonly string[];
  maxFiles: number;
}

export async function scan(options: ScanOptions): Promise<ScanResult> {
  const include = options.globs.map((glob) => new Bun.Glob(glob));
  const exclude = options.exclude.map((glob) => new Bun.Glob(glob));
  const result: ScanResult = { files: new Map(), capped: false, unreadable: [], missing: [], outside: [] };
  const roots: string[] = [];
  for (const path of options.paths) {
    const real = await realpath(path).catch(() => undefined);
    if (real) roots.push(real);
  }
  const inside = (real: string) => roots.some((root) => real === root || real.startsWith(root === sep ? root : root + sep));

  const add = (shown: string, info: FileInfo) => {
    if (result.files.has(shown)) return;
    if (result.files.size >= options.maxFiles) {
      result.capped = true;
      return;
    }
    result.files.set(shown, { size: info.size, mtimeMs: info.mtimeMs, ino: info.ino });
  };

  async function walk(real: string, shown: string, rel: string): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(real, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") result.unreadable.push(shown);
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (result.capped) return;
      const relPath = rel === "" ? entry.name : `${rel}/${entry.name}`;
      const realChild = join(real, entry.name);
      const shownChild = join(shown, entry.name);
      if (entry.isDirectory()) {
        if (!exclude.some((glob) => glob.match(relPath) || glob.match(`${relPath}/`))) await walk(realChild, shownChild, relPath);
        continue;
      }
      if (!(entry.isFile() || entry.isSymbolicLink())) continue; // sockets, fifos, devices
      if (exclude.some((glob) => glob.match(relPath)) || !include.some((glob) => glob.match(relPath))) continue;
      const info = await fileInfo(realChild, entry.isSymbolicLink());
      if (info === "outside") result.outside.push(shownChild);
      else if (info) add(shownChild, info);
    }
  }

  /** A regular file's lstat; a symlink's target when it is a file inside the watched paths. */
  async function fileInfo(path: string, link: boolean): Promise<FileInfo | "outside" | undefined> {
    try {
      if (!link) return await lstat(path);
      const target = await realpath(path);
      if (!inside(target)) return "outside";
      const info = await stat(target);
      return info.isFile() ? info : undefined;
    } catch {
      return undefined; // gone meanwhile, or a dangling link: not a file now
    }
  }

  for (const path of options.paths) {
    const real = await realpath(path).catch(() => undefined);
    if (!real) {
      result.missing.push(path);
      continue;
    }
    const info = await stat(real).catch(() => undefined);
    if (info?.isDirectory()) await walk(real, path, "");
    else if (info?.isFile()) add(path, info);
  }
  return result;
}
