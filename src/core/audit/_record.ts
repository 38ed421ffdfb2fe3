/**
 * One audit record and its exact serialization. A record is one line:
 *
 *   {"seq":7,"time":"…","agent_id":"…","event":"…","fields":{…},"prev":"<hex>","hash":"<hex>"}
 *
 * with the top-level keys in that order and every key inside `fields` sorted, so the same record has
 * exactly one form. `hash` is the sha256 of the line without its `,"hash":"…"` member, and `prev` is
 * the `hash` of the record before (in the same file or the one rotated before it), or GENESIS for the
 * first record the agent ever wrote. A verifier re-serializes each parsed line and demands the very
 * same text, so changing a single byte — even whitespace — is caught.
 */
import { createHash } from "node:crypto";
import { redact } from "../redact.ts";

/** `prev` of the first record an agent ever writes. */
export const GENESIS = "0".repeat(64);

export const AUDIT_EVENTS = [
  "instruction.received",
  "instruction.started",
  "instruction.finished",
  "plugin.install",
  "plugin.update",
  "plugin.remove",
  "plugin.reload",
  "plugin.quarantine",
  "plugin.rollback",
  "config.load",
  "config.reload",
  "auth.failure",
  "sandbox.refused",
  /** Written by the log itself after a restart found (and cut) a record the crash left half-written. */
  "audit.torn_tail",
] as const;

export type AuditEvent = (typeof AUDIT_EVENTS)[number];

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface AuditRecord {
  /** 1, 2, 3, … per agent, across rotated files. */
  seq: number;
  /** RFC 3339, UTC. */
  time: string;
  agent_id: string;
  event: string;
  fields: { [key: string]: JsonValue };
  prev: string;
  hash: string;
}

export type RecordBody = Omit<AuditRecord, "hash">;

/** JSON with object keys sorted at every depth: one text per value. */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key]!)}`).join(",")}}`;
}

/** The line without its hash: what `hash` is computed over. */
export function bodyText(body: RecordBody): string {
  return `{"seq":${body.seq},"time":${JSON.stringify(body.time)},"agent_id":${JSON.stringify(body.agent_id)},"event":${JSON.stringify(body.event)},"fields":${canonicalJson(body.fields)},"prev":${JSON.stringify(body.prev)}}`;
}

export function sha256(text: string | Uint8Array): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The line of a record (no newline). */
export function serialize(record: AuditRecord): string {
  const body = bodyText(record);
  return `${body.slice(0, -1)},"hash":${JSON.stringify(record.hash)}}`;
}

export function sealRecord(body: RecordBody): AuditRecord {
  return { ...body, hash: sha256(bodyText(body)) };
}

/**
 * Fields as plain JSON with secrets redacted: errors become their name and message, dates their
 * ISO text, bigints strings, and whatever JSON cannot hold (undefined, functions) is left out.
 */
export function toAuditFields(fields: Record<string, unknown>): { [key: string]: JsonValue } {
  const plain = toJson(redact(fields), 0);
  return plain !== null && typeof plain === "object" && !Array.isArray(plain) ? plain : {};
}

function toJson(value: unknown, depth: number): JsonValue | undefined {
  if (value === null) return null;
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "bigint":
      return value.toString();
    case "object":
      break;
    default:
      return undefined;
  }
  if (depth > 12) return "[…]";
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map((item) => toJson(item, depth + 1) ?? null);
  const out: { [key: string]: JsonValue } = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const json = toJson(item, depth + 1);
    if (json !== undefined) out[key] = json;
  }
  return out;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** The record on a line, or why the line is not one (shape only; the hash is checked by the caller). */
export function parseRecord(line: string): AuditRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return "not JSON";
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return "not a JSON object";
  const record = value as Partial<Record<keyof AuditRecord, unknown>>;
  if (!Number.isSafeInteger(record.seq) || (record.seq as number) < 1) return "seq is not a positive integer";
  if (typeof record.time !== "string" || Number.isNaN(Date.parse(record.time))) return "time is not an RFC 3339 time";
  if (typeof record.agent_id !== "string") return "agent_id is not a string";
  if (typeof record.event !== "string" || record.event === "") return "event is not a string";
  if (record.fields === null || typeof record.fields !== "object" || Array.isArray(record.fields)) return "fields is not an object";
  if (typeof record.prev !== "string" || !HEX64.test(record.prev)) return "prev is not a sha256";
  if (typeof record.hash !== "string" || !HEX64.test(record.hash)) return "hash is not a sha256";
  return record as AuditRecord;
}
