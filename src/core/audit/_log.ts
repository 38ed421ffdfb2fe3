/**
 * The audit log writer: one synchronous append per record, so a record is in the file when
 * `record()` returns and a crash leaves it whole or absent (or, at worst, a half-written last line,
 * which the next start cuts and records as `audit.torn_tail`). Files rotate as the agent's own log
 * does, never inside a record; the chain simply runs on into the next file.
 */
import { appendFileSync, existsSync, truncateSync } from "node:fs";
import { basename, dirname } from "node:path";
import { errorMessage, StavilyError } from "../errors.ts";
import { createRotatingFile, type RotatingFile } from "../log/_rotating-file.ts";
import { auditFiles, readTail } from "./_files.ts";
import { type AuditEvent, type AuditRecord, bodyText, GENESIS, parseRecord, sealRecord, serialize, sha256, toAuditFields } from "./_record.ts";

export interface AuditLogOptions {
  /** Off: `record` does nothing (`security.audit.enabled`). */
  enabled: boolean;
  /** Absolute path of the live file (`security.audit.log_file`, resolved under <home>/logs/audit). */
  log_file: string;
  /** Rotate before a record would take the file past this many bytes; 0 = never. */
  max_size: number;
  /** Rotated files kept; 0 keeps all. */
  max_backups: number;
  /** Rotated files older than this many ms are deleted; 0 keeps them. */
  max_age: number;
  /** Written into every record. */
  agent_id: string;
  /** Failures that cost no record (a rotation or pruning that failed); a failed write throws from `record` instead. */
  onError?: (error: unknown) => void;
}

export interface AuditLog {
  readonly enabled: boolean;
  /**
   * Appends one record, its fields redacted. Throws a StavilyError when the record could not be
   * written: callers that must not act unrecorded let it propagate.
   */
  record(event: AuditEvent, fields?: Record<string, unknown>): void;
  /** Closes the file and waits for pruning. A record after close is still appended (without rotation). */
  close(): Promise<void>;
}

/** The log when `security.audit.enabled` is off, and the default of every optional `audit` dependency. */
export const NO_AUDIT: AuditLog = { enabled: false, record() {}, close: async () => {} };

interface ChainState {
  writer: RotatingFile;
  seq: number;
  hash: string;
}

export function createAuditLog(options: AuditLogOptions): AuditLog {
  if (!options.enabled) return NO_AUDIT;
  const { log_file: file, agent_id } = options;
  const onError = options.onError ?? ((error: unknown) => process.emitWarning(`audit: ${errorMessage(error)}`));
  const closing: Promise<void>[] = [];
  let state: ChainState | undefined;
  let closed = false;

  function open(): ChainState {
    const { seq, hash, torn } = resumeChain(file);
    const writer = createRotatingFile({ file, max_size: options.max_size, max_backups: options.max_backups, max_age: options.max_age, compress: false, onError });
    const opened = { writer, seq, hash };
    if (torn) append(opened, "audit.torn_tail", torn);
    return opened;
  }

  function append(chain: ChainState, event: AuditEvent, fields: Record<string, unknown>): void {
    const record = sealRecord({ seq: chain.seq + 1, time: new Date().toISOString(), agent_id, event, fields: toAuditFields(fields), prev: chain.hash });
    chain.writer.write(`${serialize(record)}\n`);
    chain.seq = record.seq;
    chain.hash = record.hash;
  }

  // Opened now so a log that cannot continue its chain fails the start, not the first instruction.
  state = open();

  return {
    enabled: true,
    record(event, fields = {}) {
      try {
        state ??= open();
        append(state, event, fields);
      } catch (error) {
        // The next record starts over from the file: it cuts a half-written line and resumes the chain.
        if (state) closing.push(state.writer.close());
        state = undefined;
        if (error instanceof StavilyError && error.component === "audit") throw error;
        throw new StavilyError("audit", `cannot write the audit record ${event} to ${file}`, { cause: error });
      }
      if (closed) closing.push(state.writer.close());
    },
    async close() {
      closed = true;
      if (state) closing.push(state.writer.close());
      await Promise.all(closing);
    },
  };
}

/**
 * Where the chain stands: the seq and hash of the last whole record, in the live file or, if that is
 * empty, in the newest backup. A half-written last line is cut (its size and hash go into the
 * `audit.torn_tail` record that follows), unless it is a whole record that lacks only its newline.
 */
export function resumeChain(file: string): { seq: number; hash: string; torn?: Record<string, unknown> } {
  const files = existsSync(dirname(file)) ? auditFiles(dirname(file), basename(file)).reverse() : [];
  let torn: Record<string, unknown> | undefined;
  for (const candidate of files) {
    const tail = readTail(candidate.path);
    let line = tail.line;
    if (candidate.live && tail.torn) {
      const fragment = tail.torn.toString("utf8");
      const whole = line === undefined ? undefined : validRecord(line, candidate.path);
      const record = parseRecord(fragment);
      if (typeof record !== "string" && isSealed(record, fragment) && record.prev === (whole?.hash ?? record.prev)) {
        appendFileSync(candidate.path, "\n");
        line = fragment;
      } else {
        truncateSync(candidate.path, tail.tornOffset);
        torn = { file: basename(candidate.path), offset: tail.tornOffset, bytes: tail.torn.length, sha256: sha256(tail.torn) };
      }
    }
    if (line === undefined) continue;
    const last = validRecord(line, candidate.path);
    return { seq: last.seq, hash: last.hash, ...(torn ? { torn } : {}) };
  }
  return { seq: 0, hash: GENESIS, ...(torn ? { torn } : {}) };
}

function isSealed(record: AuditRecord, line: string): boolean {
  return serialize(record) === line && sha256(bodyText(record)) === record.hash;
}

function validRecord(line: string, path: string): AuditRecord {
  const record = parseRecord(line);
  const problem = typeof record === "string" ? record : isSealed(record, line) ? undefined : "its hash does not match";
  if (problem || typeof record === "string") {
    throw new StavilyError("audit", `cannot continue the audit chain: the last record of ${path} is not valid (${problem}); run "stavily audit verify --dir ${dirname(path)}"`);
  }
  return record;
}
