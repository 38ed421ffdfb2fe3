/**
 * Follows one log file by path across rotation and truncation, from a cursor (file identity +
 * byte offset) the caller persists. The file read last stays open between detects, so after a
 * rename rotation the rest of the old file is still read before the new one starts at 0.
 *
 * - rotated (the path names another inode): finish the old file if it is still open here (its
 *   partial last line counts as complete), then read the new one from 0. After a restart the old
 *   file is no longer open: its unread rest cannot be found (only the file itself is granted).
 * - truncated (same inode, size below the offset; copytruncate): read again from 0.
 * - missing: nothing to read; the cursor is kept, and the file that appears is read from 0.
 */
import { open, stat, type FileHandle } from "node:fs/promises";
import { type Line, scanLines } from "./_lines.ts";

export interface Cursor {
  dev: number;
  ino: number;
  /** Bytes consumed: everything before is read, a partial line after it is not. */
  offset: number;
  /** Inside an over-long line whose start was reported: skip to the next newline. */
  skipping: boolean;
}

export interface TailOptions {
  maxBytes: number;
  maxLineBytes: number;
  startAtEnd: boolean;
}

export type TailNote = "rotated" | "rotated_unread" | "truncated" | "missing" | "started";

export interface TailRun {
  cursor: Cursor | undefined;
  notes: TailNote[];
  bytesRead: number;
}

interface Held {
  handle: FileHandle;
  dev: number;
  ino: number;
}

const CHUNK = 64 * 1024;
/** The cursor after a rotated file was finished and no new file exists yet. */
const NONE: Cursor = { dev: 0, ino: 0, offset: 0, skipping: false };

export function createTail(path: string, options: TailOptions) {
  let held: Held | undefined;
  const same = (a: { dev: number; ino: number } | undefined, b: { dev: number; ino: number } | undefined) => !!a && !!b && a.dev === b.dev && a.ino === b.ino;

  /** The file now at `path`: the held handle when it is the same file, else a new one. */
  async function current(): Promise<Held | undefined> {
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    if (same(held, info)) return held;
    const handle = await open(path, "r");
    const opened = await handle.stat(); // the file opened, should it have changed since stat
    return { handle, dev: opened.dev, ino: opened.ino };
  }

  /** Reads from cursor.offset up to the end, the byte budget, or a refused line. */
  async function drain(file: Held, cursor: Cursor, budget: number, final: boolean, onLine: (line: Line) => boolean) {
    const size = (await file.handle.stat()).size;
    const chunkSize = Math.max(CHUNK, options.maxLineBytes + 1);
    let used = 0;
    let stopped = false;
    while (!stopped && used < budget && cursor.offset < size) {
      const length = Math.min(chunkSize, budget - used, size - cursor.offset);
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = await file.handle.read(buffer, 0, length, cursor.offset);
      if (bytesRead === 0) break;
      used += bytesRead;
      const atEnd = cursor.offset + bytesRead >= size;
      const scan = scanLines(buffer.subarray(0, bytesRead), cursor.offset, cursor.skipping, options.maxLineBytes, final && atEnd, onLine);
      cursor = { ...cursor, offset: cursor.offset + scan.consumed, skipping: scan.skipping };
      stopped = scan.stopped;
      if (scan.consumed === 0) break; // a partial line waits for its newline (or for the next budget)
    }
    return { cursor, used, done: !stopped && cursor.offset >= size };
  }

  async function release(file: Held | undefined) {
    if (file) await file.handle.close().catch(() => {});
  }

  return {
    /** Where a first run starts: the file's end, or (no file yet) whatever file appears, from 0. */
    async endCursor(): Promise<Cursor> {
      try {
        const info = await stat(path);
        return { dev: info.dev, ino: info.ino, offset: info.size, skipping: false };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return { ...NONE };
        throw error;
      }
    },
    async read(saved: Cursor | undefined, onLine: (line: Line) => boolean): Promise<TailRun> {
      const notes: TailNote[] = [];
      let cursor = saved;
      let budget = options.maxBytes;
      const now = await current();
      try {
        if (cursor && held && same(held, cursor) && !same(now, cursor)) {
          const old = await drain(held, cursor, budget, true, onLine);
          cursor = old.cursor;
          budget -= old.used;
          if (!old.done) return { cursor, notes, bytesRead: old.used }; // the rest of the old file next time
          notes.push("rotated");
          await release(held);
          held = undefined;
          // With no new file yet, the cursor names none (ino 0): the next file starts at 0.
          cursor = now ? { dev: now.dev, ino: now.ino, offset: 0, skipping: false } : { ...NONE };
        } else if (cursor && now && !same(now, cursor)) {
          if (cursor.ino !== NONE.ino) notes.push("rotated_unread");
          cursor = { dev: now.dev, ino: now.ino, offset: 0, skipping: false };
        }
        if (!now) {
          notes.push("missing");
          return { cursor, notes, bytesRead: options.maxBytes - budget };
        }
        if (!cursor) {
          const size = (await now.handle.stat()).size;
          cursor = { dev: now.dev, ino: now.ino, offset: options.startAtEnd ? size : 0, skipping: false };
          notes.push("started");
        } else if ((await now.handle.stat()).size < cursor.offset) {
          notes.push("truncated");
          cursor = { ...cursor, offset: 0, skipping: false };
        }
        if (held !== now) await release(held);
        held = now;
        const run = await drain(now, cursor, budget, false, onLine);
        return { cursor: run.cursor, notes, bytesRead: options.maxBytes - budget + run.used };
      } finally {
        if (now && now !== held) await release(now);
      }
    },
    async close() {
      await release(held);
      held = undefined;
    },
  };
}

export type Tail = ReturnType<typeof createTail>;
