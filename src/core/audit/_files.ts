/**
 * The files of one audit log, oldest first: its rotated backups (named as the log module's rotating
 * writer names them, `<file>.<stamp>[-NNN][.gz]`, see ../log/_backups.ts) and then the live file.
 */
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { StavilyError } from "../errors.ts";

/** Same stamp as ../log/_backups.ts; sorting the stamp text sorts by time, as it is fixed-width UTC. */
const BACKUP = /^(.+)\.(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z)(?:-(\d+))?(\.gz)?$/;
const DEFAULT_NAME = "audit.log";

export interface AuditFile {
  path: string;
  /** The live file, as opposed to a rotated backup. */
  live: boolean;
}

/** The audit log `name` in `dir`, oldest file first. When `name` is not given, the one log found there. */
export function auditFiles(dir: string, name?: string): AuditFile[] {
  let entries: string[];
  try {
    entries = readdirSync(dir).filter((entry) => statSync(join(dir, entry)).isFile());
  } catch (error) {
    throw new StavilyError("audit", `cannot read the audit directory ${dir}`, { cause: error });
  }
  const logName = name ?? pickName(dir, entries);
  const backups: Array<{ path: string; key: string }> = [];
  for (const entry of entries) {
    const match = BACKUP.exec(entry);
    if (!match || match[1] !== logName) continue;
    const [, , stamp = "", seq = "0"] = match;
    // A crash between writing a .gz and removing its source leaves both; they hold the same lines.
    if (match[4] && entries.includes(entry.slice(0, -3))) continue;
    backups.push({ path: join(dir, entry), key: `${stamp}-${seq.padStart(6, "0")}` });
  }
  backups.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const files: AuditFile[] = backups.map(({ path }) => ({ path, live: false }));
  if (entries.includes(logName)) files.push({ path: join(dir, logName), live: true });
  return files;
}

function pickName(dir: string, entries: string[]): string {
  const names = new Set<string>();
  for (const entry of entries) {
    if (entry.endsWith(".tmp")) continue;
    names.add(BACKUP.exec(entry)?.[1] ?? entry);
  }
  if (names.size === 1) return [...names][0]!;
  if (names.has(DEFAULT_NAME)) return DEFAULT_NAME;
  if (names.size === 0) throw new StavilyError("audit", `no audit log in ${dir}`);
  throw new StavilyError("audit", `several logs in ${dir} (${[...names].sort().join(", ")}); name the audit log with -c <config>`);
}

/** The bytes of an audit file, gunzipped if it is a `.gz`. */
export function readAuditFile(path: string): Buffer {
  try {
    const data = readFileSync(path);
    return path.endsWith(".gz") ? gunzipSync(data) : data;
  } catch (error) {
    throw new StavilyError("audit", `cannot read ${path}`, { cause: error });
  }
}

export interface Tail {
  /** The last complete line (without its newline), if any. */
  line?: string;
  /** Bytes after the last newline: a record a crash left half-written. */
  torn?: Buffer;
  /** Where the torn bytes start (the size the file has without them). */
  tornOffset: number;
}

/** The end of a plain file, read backwards in chunks: an audit file can be large. */
export function readTail(path: string): Tail {
  if (path.endsWith(".gz")) return splitTail(readAuditFile(path), 0);
  if (!existsSync(path)) return { tornOffset: 0 };
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    let start = size;
    let chunk = Buffer.alloc(0);
    const CHUNK = 64 * 1024;
    // Read until the buffer holds the newline before the last complete line, or the file's start.
    while (start > 0) {
      const length = Math.min(CHUNK, start);
      start -= length;
      const part = Buffer.alloc(length);
      readSync(fd, part, 0, length, start);
      chunk = Buffer.concat([part, chunk]);
      const last = chunk.lastIndexOf(10);
      if (last >= 0 && newlineBefore(chunk, last) >= 0) break;
    }
    return splitTail(chunk, start);
  } finally {
    closeSync(fd);
  }
}

function splitTail(data: Buffer, offset: number): Tail {
  const last = data.lastIndexOf(10);
  const torn = data.subarray(last + 1);
  const tail: Tail = { tornOffset: offset + last + 1 };
  if (torn.length > 0) tail.torn = Buffer.from(torn);
  if (last >= 0) tail.line = data.subarray(newlineBefore(data, last) + 1, last).toString("utf8");
  return tail;
}

/** The last newline before `index`, or -1 (a negative offset would make lastIndexOf count from the end). */
function newlineBefore(data: Buffer, index: number): number {
  return index > 0 ? data.lastIndexOf(10, index - 1) : -1;
}
