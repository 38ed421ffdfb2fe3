/**
 * Space of one filesystem by statfs(2): no child process. Asynchronous and bounded, because a
 * statfs of a hung network mount never returns; a path whose previous statfs is still pending is
 * not asked again (that would pile up blocked threads), it is reported unavailable at once.
 */
import { statfs } from "node:fs/promises";

export interface Space {
  /** Bytes. */
  total: number;
  used: number;
  /** To unprivileged users (df's Avail). */
  available: number;
  /** used / (used + available), as df's Use%. */
  percent: number;
  inodesPercent: number | null;
}

export type Answer = { space: Space } | { space?: undefined; error: string };

type Statfs = (path: string) => Promise<Parameters<typeof toSpace>[0]>;

/** `call` is statfs(2); tests pass one that never answers. */
export function createStatfs(timeoutMs: number, call: Statfs = statfs) {
  const pending = new Map<string, Promise<unknown>>();
  return async function space(path: string): Promise<Answer> {
    if (pending.has(path)) return { error: "statfs still pending from an earlier detect (hung mount?)" };
    const asked = call(path);
    pending.set(path, asked);
    asked.then(
      () => pending.delete(path),
      () => pending.delete(path),
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(resolve, timeoutMs, "late")));
    try {
      const result = await Promise.race([asked, late]);
      if (result === "late") return { error: `statfs took more than ${timeoutMs} ms` };
      return { space: toSpace(result) };
    } catch (error) {
      return { error: `statfs: ${(error as Error).message}` };
    } finally {
      clearTimeout(timer);
    }
  };
}

export function toSpace(s: { blocks: number; bfree: number; bavail: number; bsize: number; files: number; ffree: number; frsize?: number }): Space {
  // Block counts are in fragment-size units (statvfs's f_frsize); Bun reports it, Node's typings do not.
  const unit = s.frsize && s.frsize > 0 ? s.frsize : s.bsize;
  const used = (s.blocks - s.bfree) * unit;
  const available = s.bavail * unit;
  const inodesUsed = s.files - s.ffree;
  return {
    total: s.blocks * unit,
    used,
    available,
    percent: used + available > 0 ? (used / (used + available)) * 100 : 0,
    inodesPercent: s.files > 0 ? (inodesUsed / s.files) * 100 : null,
  };
}
