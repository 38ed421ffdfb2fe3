/**
 * What a plugin returns is checked here, on the host, before anyone trusts it: the worker shares a
 * global scope with plugin code, which can post anything.
 */
import * as v from "valibot";
import type { ActionResult, DetectedEvent, IdentifiedEvent, PluginErrorInfo, PluginHealth } from "../types.ts";
import type { LogLevelName, WorkerMessage } from "./_protocol.ts";

const record = v.record(v.string(), v.unknown());

const EventSchema = v.strictObject({
  type: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
  severity: v.optional(v.picklist(["low", "medium", "high", "critical"])),
  data: v.optional(record),
  metadata: v.optional(record),
  tags: v.optional(v.array(v.string())),
  dedupe_key: v.optional(v.string()),
});

/** A `detect` event also carries the id the worker runtime gave it (see context/_state.ts). */
const RunEventSchema = v.strictObject({ ...EventSchema.entries, id: v.optional(v.pipe(v.string(), v.uuid())) });

const ErrorInfoSchema = v.object({
  message: v.string(),
  code: v.optional(v.string()),
  retryable: v.optional(v.boolean()),
  details: v.optional(record),
});

/** `error` is how the worker reports a throw from execute (see _runtime.ts); a plugin may set it too. */
const ActionOutputSchema = v.strictObject({
  status: v.optional(v.picklist(["completed", "failed"])),
  data: v.optional(record),
  error: v.optional(ErrorInfoSchema),
});

const HealthSchema = v.strictObject({
  status: v.picklist(["healthy", "degraded", "unhealthy"]),
  message: v.optional(v.string()),
});

const LEVELS = ["trace", "debug", "info", "warn", "error"] as const;

/** Refuses with a message naming the first problem and where it is. */
function check<T>(what: string, schema: v.GenericSchema<unknown, T>, value: unknown): T {
  const result = v.safeParse(schema, value);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const path = issue.path?.map((item) => String(item.key)).join(".") ?? "";
  throw new Error(`invalid ${what}${path ? ` at ${path}` : ""}: ${issue.message}`);
}

/** `detect` may return one event, a list, or nothing; the agent always gets a list. */
export function acceptEvents(value: unknown, maxEvents: number): IdentifiedEvent[] {
  const list = value === null || value === undefined ? [] : Array.isArray(value) ? value : [value];
  if (list.length > maxEvents) throw new Error(`invalid events: ${list.length} in one run, at most ${maxEvents}`);
  return list.map((item, index) => check(`event ${index}`, RunEventSchema, item) as IdentifiedEvent);
}

export function acceptEvent(value: unknown): DetectedEvent {
  return check("event", EventSchema, value) as DetectedEvent;
}

export function acceptActionOutput(value: unknown): ActionResult {
  const output = check("action result", ActionOutputSchema, value ?? {});
  const status = output.error ? "failed" : (output.status ?? "completed");
  return { status, ...(output.data ? { data: output.data } : {}), ...(output.error ? { error: output.error } : {}) };
}

export function acceptHealth(value: unknown): PluginHealth {
  if (value === null || value === undefined) return { status: "healthy" };
  return check("health", HealthSchema, value) as PluginHealth;
}

export function acceptNothing(): undefined {
  return undefined;
}

/** A message from the worker, or undefined when it is not one (dropped and counted by the host). */
export function parseWorkerMessage(data: unknown): WorkerMessage | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const m = data as Record<string, unknown>;
  switch (m.t) {
    case "ok":
      return Number.isInteger(m.id) ? { t: "ok", id: m.id as number, value: m.value } : undefined;
    case "fail": {
      if (!Number.isInteger(m.id)) return undefined;
      const error = v.safeParse(ErrorInfoSchema, m.error);
      const info: PluginErrorInfo = error.success ? error.output : { message: "the plugin failed with an unreadable error", code: "invalid_output" };
      return { t: "fail", id: m.id as number, error: info };
    }
    case "log": {
      if (typeof m.msg !== "string" || !LEVELS.includes(m.level as LogLevelName)) return undefined;
      const fields = v.is(record, m.fields) ? m.fields : undefined;
      const call = Number.isInteger(m.call) ? (m.call as number) : undefined;
      return { t: "log", level: m.level as LogLevelName, msg: m.msg, fields, call };
    }
    case "event":
      return { t: "event", event: m.event };
    case "heap":
      return typeof m.bytes === "number" && Number.isFinite(m.bytes) ? { t: "heap", bytes: m.bytes } : undefined;
    case "exec":
      return Number.isInteger(m.pid) && (m.pid as number) > 1 && typeof m.running === "boolean" ? { t: "exec", pid: m.pid as number, running: m.running } : undefined;
    default:
      return undefined;
  }
}
