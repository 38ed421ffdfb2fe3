/**
 * The snapshot in ctx.state, and the diff between two. A value in ctx.state is capped (1 MiB), so
 * the snapshot is split over numbered keys; it is written only when something changed, and read
 * from ctx.state only once per instance (then kept in memory, keyed by the instance's state).
 */
import type { PluginState } from "../../../src/sdk/index.ts";
import type { FileInfo } from "./_scan.ts";

const META = "snapshot";
const CHUNK_BYTES = 512 * 1024;

interface Meta {
  /** What was watched: a snapshot of other paths or globs is not compared, it is retaken. */
  fingerprint: string;
  chunks: number;
}

type Row = [size: number, mtimeMs: number, ino: number];

const cache = new WeakMap<PluginState, { fingerprint: string; files: Map<string, FileInfo> }>();

/** The saved snapshot (never mutate it), undefined when none, "other" when it is of another configuration. */
export function loadSnapshot(state: PluginState, fingerprint: string): Map<string, FileInfo> | undefined | "other" {
  const hit = cache.get(state);
  if (hit?.fingerprint === fingerprint) return hit.files;
  const meta = state.get<Meta>(META);
  if (!meta) return undefined;
  if (meta.fingerprint !== fingerprint) return "other";
  const files = new Map<string, FileInfo>();
  for (let index = 0; index < meta.chunks; index++) {
    const rows = state.get<Record<string, Row>>(`${META}.${index}`) ?? {};
    for (const [path, [size, mtimeMs, ino]] of Object.entries(rows)) files.set(path, { size, mtimeMs, ino });
  }
  cache.set(state, { fingerprint, files });
  return files;
}

export function saveSnapshot(state: PluginState, fingerprint: string, files: Map<string, FileInfo>): void {
  const chunks: Record<string, Row>[] = [];
  let chunk: Record<string, Row> = {};
  let bytes = 0;
  for (const [path, info] of files) {
    const size = path.length * 3 + 64; // worst case UTF-8 plus the numbers, so a chunk stays under the cap
    if (bytes + size > CHUNK_BYTES && bytes > 0) {
      chunks.push(chunk);
      chunk = {};
      bytes = 0;
    }
    chunk[path] = [info.size, info.mtimeMs, info.ino];
    bytes += size;
  }
  chunks.push(chunk);
  const previous = state.get<Meta>(META)?.chunks ?? 0;
  chunks.forEach((rows, index) => state.set(`${META}.${index}`, rows));
  for (let index = chunks.length; index < previous; index++) state.delete(`${META}.${index}`);
  state.set(META, { fingerprint, chunks: chunks.length } satisfies Meta);
  cache.set(state, { fingerprint, files });
}

export type Change =
  | { kind: "created"; path: string; now: FileInfo }
  | { kind: "modified"; path: string; now: FileInfo; before: FileInfo }
  | { kind: "deleted"; path: string; before: FileInfo };

/** Changes in path order. `keep(path)` protects a file not seen now from counting as deleted. */
export function diff(before: Map<string, FileInfo>, now: Map<string, FileInfo>, keep: (path: string) => boolean): Change[] {
  const changes: Change[] = [];
  for (const [path, info] of now) {
    const old = before.get(path);
    if (!old) changes.push({ kind: "created", path, now: info });
    else if (old.size !== info.size || old.mtimeMs !== info.mtimeMs || old.ino !== info.ino) changes.push({ kind: "modified", path, now: info, before: old });
  }
  for (const [path, old] of before) if (!now.has(path) && !keep(path)) changes.push({ kind: "deleted", path, before: old });
  return changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The snapshot after `reported` only: changes left unreported show up again at the next diff. */
export function apply(before: Map<string, FileInfo>, reported: readonly Change[]): Map<string, FileInfo> {
  const next = new Map(before);
  for (const change of reported) {
    if (change.kind === "deleted") next.delete(change.path);
    else next.set(change.path, change.now);
  }
  return next;
}
