/**
 * Copies a local directory (or a git checkout) into a stage through the extractor, so every source meets the
 * same policy: only regular files and directories, the same caps, links refused.
 */
import fs from "node:fs";
import path from "node:path";
import type { ArchiveEntry } from "./_archive.ts";
import { type WriteLimits, type WriteSummary, writeEntries } from "./_extract.ts";

/** Copies the tree at `source` into `dest`; a `.git` directory at its top is left out. */
export function copyDirectory(source: string, dest: string, limits: WriteLimits): Promise<WriteSummary> {
  return writeEntries(source, walk(path.resolve(source), ""), dest, limits);
}

async function* walk(root: string, relative: string): AsyncGenerator<ArchiveEntry> {
  const dir = path.join(root, relative);
  const names = (await fs.promises.readdir(dir)).sort();
  for (const name of names) {
    if (relative === "" && name === ".git") continue;
    const rel = relative === "" ? name : `${relative}/${name}`;
    const full = path.join(dir, name);
    // lstat: a link is reported as a link, never followed.
    const stat = await fs.promises.lstat(full);
    const base = { name: rel, mode: stat.mode & 0o777, body: emptyBody };
    if (stat.isDirectory()) {
      yield { ...base, kind: "directory", label: "directory", size: 0 };
      yield* walk(root, rel);
    } else if (stat.isFile()) {
      yield { ...base, kind: "file", label: "regular file", size: stat.size, body: () => fileBody(full) };
    } else if (stat.isSymbolicLink()) {
      yield { ...base, kind: "symlink", label: "symbolic link", size: 0, linkTarget: await fs.promises.readlink(full) };
    } else {
      yield { ...base, kind: "other", label: "special file (device, FIFO or socket)", size: 0 };
    }
  }
}

async function* emptyBody(): AsyncGenerator<Uint8Array> {}

async function* fileBody(file: string): AsyncGenerator<Uint8Array> {
  // It was a regular file at lstat time. If it has been swapped since, O_NOFOLLOW fails on a link, O_NONBLOCK
  // keeps a FIFO from blocking the open, and the fstat refuses anything but a regular file.
  const flags = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
  const handle = await fs.promises.open(file, flags);
  try {
    if (!(await handle.stat()).isFile()) throw new Error(`${file} changed while being copied`);
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) return;
      yield buffer.slice(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}
