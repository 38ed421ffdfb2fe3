/**
 * Writes entries (from a tar, a zip or a directory walk) below a fresh destination, under one policy:
 *
 * - names must stay below the destination: no absolute paths, no `..`, no backslashes;
 * - only regular files and directories are created. No link of any kind is ever created, so no later entry can
 *   be written through one (the "symlink to a directory, then a file through it" attack has nothing to use),
 *   and a plugin can never point at files outside its own tree. Links under `node_modules/.bin/` are npm's
 *   command shims: they are skipped. Every other link, and every device, FIFO or socket, is refused;
 * - files get mode 0644, or 0755 when the archive marks them executable; never setuid, setgid or sticky;
 * - an entry name that repeats is refused (files are created with O_EXCL and O_NOFOLLOW);
 * - the entry count and the bytes actually written are capped, and the archive stops being read at the cap.
 *
 * Each refusal is a StavilyError naming the archive and the entry. The caller discards the destination.
 */
import { constants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { StavilyError } from "../../errors.ts";
import { type ArchiveEntry, archiveError } from "./_archive.ts";
import { below, isNpmShim, relativeSegments } from "./_entry-path.ts";
import type { InstallLimits } from "./_options.ts";
import { readTar } from "./_tar.ts";
import { readZip } from "./_zip.ts";

export type WriteLimits = Pick<InstallLimits, "maxBytes" | "maxEntries">;

export interface WriteSummary {
  entries: number;
  bytes: number;
}

/** Extracts the .tar.gz, .tgz, .tar or .zip at `file` (told apart by content, not name) into `dest`. */
export async function extractArchive(file: string, dest: string, limits: WriteLimits): Promise<WriteSummary> {
  const head = new Uint8Array(await Bun.file(file).slice(0, 512).arrayBuffer());
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const stream = Bun.file(file).stream().pipeThrough(new DecompressionStream("gzip"));
    return writeEntries(file, readTar(file, stream), dest, limits);
  }
  if (head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5)) {
    return writeEntries(file, readZip(file, limits.maxEntries), dest, limits);
  }
  if (new TextDecoder().decode(head.subarray(257, 262)) === "ustar") {
    return writeEntries(file, readTar(file, Bun.file(file).stream()), dest, limits);
  }
  throw archiveError(file, "is not a .tar.gz, .tgz, .tar or .zip archive");
}

/** Writes `entries` below `dest` (created if missing) under the policy above; `origin` names them in errors. */
export async function writeEntries(
  origin: string,
  entries: AsyncIterable<ArchiveEntry>,
  dest: string,
  limits: WriteLimits,
): Promise<WriteSummary> {
  try {
    return await write(origin, entries, path.resolve(dest), limits);
  } catch (error) {
    if (error instanceof StavilyError) throw error;
    // A corrupt gzip or deflate stream, an unreadable file: the reader's own words, under the archive's name.
    throw archiveError(origin, `cannot be read: ${(error as Error).message}`, undefined, error);
  }
}

async function write(origin: string, entries: AsyncIterable<ArchiveEntry>, root: string, limits: WriteLimits) {
  await fs.mkdir(root, { recursive: true, mode: 0o755 });
  let count = 0;
  let bytes = 0;
  for await (const entry of entries) {
    if (++count > limits.maxEntries) throw archiveError(origin, `more than ${limits.maxEntries} entries; refused`, entry.name);
    // Declared sizes are checked first so an honest header fails fast; actual bytes are counted below.
    if (bytes + entry.size > limits.maxBytes) throw tooLarge(origin, entry.name, limits.maxBytes);
    let segments: string[] | null;
    let target: string;
    try {
      segments = relativeSegments(entry.name);
      target = segments === null ? root : below(root, segments);
    } catch (error) {
      throw archiveError(origin, (error as Error).message, entry.name);
    }
    // Whatever is not a file's content (a directory's or link's declared size) is still read past, so it counts.
    if (entry.kind !== "file") bytes += entry.size;
    if (segments === null) continue;

    switch (entry.kind) {
      case "directory":
        await attempt(origin, entry.name, () => fs.mkdir(target, { recursive: true, mode: 0o755 }));
        break;
      case "file":
        bytes = await writeFile(origin, entry, target, bytes, limits.maxBytes);
        break;
      case "symlink":
      case "hardlink":
        if (isNpmShim(segments)) continue;
        throw archiveError(
          origin,
          `refused: ${entry.label}${entry.linkTarget ? ` to ${JSON.stringify(entry.linkTarget)}` : ""}; plugins may contain only regular files and directories`,
          entry.name,
        );
      case "other":
        throw archiveError(origin, `refused: ${entry.label}; plugins may contain only regular files and directories`, entry.name);
    }
  }
  return { entries: count, bytes };
}

async function writeFile(origin: string, entry: ArchiveEntry, target: string, before: number, max: number): Promise<number> {
  await attempt(origin, entry.name, () => fs.mkdir(path.dirname(target), { recursive: true, mode: 0o755 }));
  const mode = (entry.mode & 0o111) !== 0 ? 0o755 : 0o644;
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const handle = await attempt(origin, entry.name, () => fs.open(target, flags, mode));
  let bytes = before;
  try {
    for await (const chunk of entry.body()) {
      bytes += chunk.length;
      if (bytes > max) throw tooLarge(origin, entry.name, max);
      await handle.write(chunk);
    }
  } finally {
    await handle.close();
  }
  // The umask may have narrowed the mode; these are the bits we chose.
  await fs.chmod(target, mode);
  return bytes;
}

function tooLarge(origin: string, name: string, max: number) {
  return archiveError(origin, `refused: the plugin would exceed ${max} bytes uncompressed`, name);
}

async function attempt<T>(origin: string, name: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "EEXIST" ? "refused: it clashes with an earlier entry of the same name" : `cannot write it: ${(error as Error).message}`;
    throw archiveError(origin, why, name, error);
  }
}
