/**
 * Walks an audit log's chain from its oldest remaining file to the live one and stops at the first
 * record that breaks it.
 *
 * What an intact chain proves: every record from the first remaining one to the last is exactly as
 * written, none was removed, inserted or reordered between them, and each file continues the one
 * before. When rotated files were pruned (max_backups, max_age), the oldest remaining record's `prev`
 * cannot be checked and is accepted as the starting point, so the proof starts there; a chain that
 * still begins at seq 1 must begin at GENESIS. What no chain can prove on its own: that records were
 * not cut from the very end, or that whole oldest files were not deleted — ship the last hash
 * (`verifyAudit(...).last`) elsewhere to anchor those.
 */
import { StavilyError } from "../errors.ts";
import { auditFiles, readAuditFile } from "./_files.ts";
import { bodyText, GENESIS, parseRecord, serialize, sha256, type AuditRecord } from "./_record.ts";

export type BreakReason = "altered" | "removed" | "reordered" | "torn" | "malformed";

export interface AuditBreak {
  /** Path of the file holding the offending line. */
  file: string;
  /** 1-based line number in that file. */
  line: number;
  reason: BreakReason;
  /** What exactly is wrong, for people. */
  message: string;
}

export interface AuditVerification {
  ok: boolean;
  /** Files walked (all of them when ok). */
  files: number;
  /** Records found intact before the first break. */
  records: number;
  /** Where the chain starts: seq 1 at GENESIS, or a later record when older files were pruned. */
  first?: { seq: number; prev: string };
  /** The last intact record: anchor its hash elsewhere to detect records cut from the end. */
  last?: { seq: number; hash: string };
  error?: AuditBreak;
}

interface Line {
  file: string;
  line: number;
  text: string;
  /** False for the bytes after a file's last newline. */
  terminated: boolean;
}

/** Verifies the audit log `name` in `dir` (by default the one log there). Throws if there is none. */
export function verifyAudit(dir: string, options: { name?: string } = {}): AuditVerification {
  const files = auditFiles(dir, options.name);
  if (files.length === 0) throw new StavilyError("audit", `no audit log${options.name ? ` ${options.name}` : ""} in ${dir}`);
  const lines: Line[] = [];
  for (const file of files) lines.push(...splitLines(file.path, readAuditFile(file.path)));

  const result: AuditVerification = { ok: true, files: files.length, records: 0 };
  let previous: AuditRecord | undefined;
  const fail = (at: Line, reason: BreakReason, message: string): AuditVerification => {
    result.ok = false;
    result.files = files.findIndex((file) => file.path === at.file) + 1;
    result.error = { file: at.file, line: at.line, reason, message };
    return result;
  };

  for (const [index, at] of lines.entries()) {
    if (!at.terminated) return fail(at, "torn", `the last record is incomplete (${Buffer.byteLength(at.text)} bytes without a newline): written when the agent stopped`);
    const record = parseRecord(at.text);
    if (typeof record === "string") return fail(at, "malformed", `not an audit record: ${record}`);
    if (serialize(record) !== at.text) return fail(at, "altered", "the line is not in the form the agent writes");
    if (sha256(bodyText(record)) !== record.hash) return fail(at, "altered", `record seq ${record.seq} does not match its hash`);
    if (!previous) {
      if (record.seq === 1 && record.prev !== GENESIS) return fail(at, "altered", "the first record (seq 1) does not start the chain");
      result.first = { seq: record.seq, prev: record.prev };
    } else {
      const expected = previous.seq + 1;
      if (record.seq < expected) return fail(at, "reordered", `seq ${record.seq} comes after seq ${previous.seq}`);
      if (record.seq > expected) {
        const later = lines.slice(index + 1).some((other) => seqOf(other.text) === expected);
        return later
          ? fail(at, "reordered", `seq ${record.seq} comes before seq ${expected}`)
          : fail(at, "removed", `seq ${expected}${record.seq > expected + 1 ? `–${record.seq - 1}` : ""} missing before seq ${record.seq}`);
      }
      if (record.prev !== previous.hash) return fail(at, "altered", `record seq ${record.seq} does not link to the hash of seq ${previous.seq}`);
    }
    previous = record;
    result.records++;
    result.last = { seq: record.seq, hash: record.hash };
  }
  return result;
}

function splitLines(file: string, data: Buffer): Line[] {
  const texts = data.toString("utf8").split("\n");
  const tail = texts.pop();
  const lines = texts.map((text, index) => ({ file, line: index + 1, text, terminated: true }));
  if (tail) lines.push({ file, line: texts.length + 1, text: tail, terminated: false });
  return lines;
}

/** A record's seq without checking the rest of it, for telling a reordering from a removal. */
function seqOf(text: string): number | undefined {
  const match = /^\{"seq":(\d+),/.exec(text);
  return match ? Number(match[1]) : undefined;
}
