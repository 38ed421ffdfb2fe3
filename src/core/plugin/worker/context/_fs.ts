/**
 * `ctx.fs`: reads under permissions.filesystem.read (or write), writes under .write; the plugin's
 * work dir is always both. Paths and roots are resolved with realpath, so a symlink inside an
 * allowed directory cannot point outside it.
 */
import { lstat, readdir, readFile, realpath, stat, writeFile } from "node:fs/promises";
import { basename, dirname, isAbsolute, resolve, sep } from "node:path";
import type { PluginFs } from "../../../../sdk/types.ts";
import type { PluginLaunch } from "../../types.ts";
import { badRequest, permissionDenied } from "./_denied.ts";

export interface FsLimits {
  /** Largest text `readText` returns / `writeText` writes, bytes. */
  maxFileBytes: number;
}

export function createPluginFs(launch: PluginLaunch, limits: FsLimits): PluginFs {
  const readRoots = [launch.workDir, ...launch.permissions.filesystem.read, ...launch.permissions.filesystem.write];
  const writeRoots = [launch.workDir, ...launch.permissions.filesystem.write];
  let roots: Promise<{ read: string[]; write: string[] }> | undefined;
  const resolvedRoots = () => (roots ??= Promise.all([realRoots(readRoots), realRoots(writeRoots)]).then(([read, write]) => ({ read, write })));

  async function allowed(path: string, mode: "read" | "write"): Promise<string> {
    if (typeof path !== "string" || path === "") throw badRequest("fs: a path is required");
    const absolute = isAbsolute(path) ? path : resolve(launch.workDir, path);
    const real = mode === "read" ? await realpath(absolute) : await realTarget(absolute);
    const { read, write } = await resolvedRoots();
    if (!(mode === "read" ? read : write).some((root) => real === root || real.startsWith(root + sep))) {
      throw permissionDenied(`fs ${mode} ${path}${real !== absolute ? ` (resolves to ${real})` : ""} is outside the granted paths`);
    }
    return real;
  }

  return {
    async readText(path) {
      const real = await allowed(path, "read");
      const info = await stat(real);
      if (info.size > limits.maxFileBytes) throw badRequest(`fs: ${path} is ${info.size} bytes, more than ${limits.maxFileBytes}`);
      return readFile(real, "utf8");
    },
    async writeText(path, text) {
      if (Buffer.byteLength(text) > limits.maxFileBytes) throw badRequest(`fs: refusing to write more than ${limits.maxFileBytes} bytes to ${path}`);
      const real = await allowed(path, "write");
      await writeFile(real, text);
    },
    async list(path) {
      return (await readdir(await allowed(path, "read"))).sort();
    },
    async stat(path) {
      const info = await stat(await allowed(path, "read"));
      return { size: info.size, isFile: info.isFile(), isDirectory: info.isDirectory(), mtimeMs: info.mtimeMs };
    },
  };
}

/**
 * A file that may not exist yet: its directory's realpath plus its name. A dangling symlink is
 * refused: writing through it would create its target wherever it points.
 */
async function realTarget(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    const link = await lstat(path).catch(() => undefined);
    if (link?.isSymbolicLink()) throw permissionDenied(`fs write ${path}: a symlink to a missing target`);
    return resolve(await realpath(dirname(path)), basename(path));
  }
}

/** Roots that do not exist grant nothing (and cannot be created later to widen access). */
async function realRoots(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) {
    if (!isAbsolute(path)) continue;
    try {
      out.push(await realpath(path));
    } catch {
      // missing root: skipped
    }
  }
  return out;
}
