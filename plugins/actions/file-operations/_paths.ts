/**
 * Where an operation may reach: below the real paths of allowed_paths and the plugin's work dir.
 * Every path is resolved with realpath before it is compared, so `..` and symlinks (in any
 * component) cannot lead outside. Two ways to resolve: the entry itself (its parent's real path
 * plus its name: delete, move, write and create act on the link, never through it), and followed
 * (the real path: copy's source, chmod).
 */
import { lstat, mkdir, realpath } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import { conflict, invalid, refused } from "./_errors.ts";

export interface Area {
  /** Real paths of the roots that exist; a missing root allows nothing. */
  roots: string[];
  /** As configured, for messages. */
  configured: string[];
}

export async function areaOf(allowedPaths: readonly string[], workDir: string): Promise<Area> {
  const roots: string[] = [];
  for (const path of [workDir, ...allowedPaths]) {
    const real = await realpath(path).catch(() => undefined);
    if (real) roots.push(real);
  }
  return { roots, configured: [...allowedPaths] };
}

export function inside(path: string, roots: readonly string[]): boolean {
  return roots.some((root) => path === root || path.startsWith(root === sep ? root : root + sep));
}

export const isRoot = (path: string, area: Area) => area.roots.includes(path);

function outside(area: Area, field: string, given: string, real: string): Error {
  const shown = real === given ? given : `${given} (resolves to ${real})`;
  const allowed = area.configured.length > 0 ? area.configured.join(", ") : "none configured";
  return refused(`${field} ${shown} is outside allowed_paths (${allowed}) and the plugin's work dir`);
}

/** A path that does not resolve: refused when it is outside anyway (no probing what exists), else not found. */
function missing(area: Area, field: string, given: string, error: unknown): Error {
  if (!inside(resolve(given), area.roots)) return outside(area, field, given, resolve(given));
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ENOENT" ? conflict("not_found", `${field} ${given} does not exist`) : invalid(field, `${given} cannot be used (${code ?? (error as Error).message})`);
}

/** The real path of an existing file or directory, inside the area. */
export async function followed(given: string, area: Area, field: string): Promise<string> {
  let real: string;
  try {
    real = await realpath(given);
  } catch (error) {
    throw missing(area, field, given, error);
  }
  if (!inside(real, area.roots)) throw outside(area, field, given, real);
  return real;
}

/** The entry itself, which may not exist: its parent's real path plus its name, inside the area. */
export async function entry(given: string, area: Area, field: string): Promise<string> {
  const normal = resolve(given);
  if (normal === sep) throw refused(`${field} /: the root directory`);
  let parent: string;
  try {
    parent = await realpath(dirname(normal));
  } catch (error) {
    throw missing(area, field, dirname(normal), error);
  }
  const target = join(parent, basename(normal));
  if (!inside(target, area.roots)) throw outside(area, field, given, target);
  return target;
}

/**
 * Creates the missing directories of `dir` one at a time (mode `mode`), after checking that the
 * nearest existing one is inside the area; returns the real path. mkdir never follows a symlink,
 * so a link appearing meanwhile makes it fail rather than lead outside.
 */
export async function makeParents(dir: string, area: Area, field: string, mode: number): Promise<string> {
  const missingParts: string[] = [];
  let existing = resolve(dir);
  let real: string | undefined;
  while (real === undefined) {
    try {
      real = await realpath(existing);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || existing === sep) throw missing(area, field, existing, error);
      missingParts.unshift(basename(existing));
      existing = dirname(existing);
    }
  }
  if (!inside(real, area.roots)) throw outside(area, field, existing, real);
  if (!(await lstat(real)).isDirectory()) throw conflict("wrong_type", `${field}: ${real} is not a directory`);
  let current = real;
  for (const part of missingParts) {
    current = join(current, part);
    try {
      await mkdir(current, { mode });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const info = await lstat(current);
      if (!info.isDirectory()) throw conflict("wrong_type", `${field}: ${current} exists and is not a directory`);
    }
  }
  return current;
}
