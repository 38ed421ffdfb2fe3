/**
 * The Stavily stdio protocol on the wire, as the Stavily Python plugins speak it
 * (Stavily/01-Agents: examples/plugins/cpu-monitor/cpu_monitor.py, examples/plugins/service-restart/
 * service_restart.py; field names from shared/pkg/plugin/interface.go). One JSON object per line each way;
 * every request is answered by `{"action", "success", "data"?, "error"?}` with the request's action.
 */
import * as v from "valibot";
import type { ActionRequest, ActionResult, IdentifiedEvent, PluginErrorInfo, PluginHealth, PluginLaunch } from "../types.ts";

export type StdioAction =
  | "get_info"
  | "initialize"
  | "start"
  | "stop"
  | "get_status"
  | "get_health"
  | "detect_triggers"
  | "get_trigger_config"
  | "execute_action"
  | "get_action_config"
  /** Protocol extension (README): an output's batch. */
  | "send";

/** `launch` and `deadline` are protocol extensions (README), sent only to a child that speaks them. */
export type StdioRequest = (
  | { action: "initialize"; config: Record<string, unknown>; launch?: PluginLaunch }
  | { action: "execute_action"; action_request: WireActionRequest }
  | { action: "send"; batch: readonly unknown[] }
  | { action: Exclude<StdioAction, "initialize" | "execute_action" | "send"> }
) & {
  deadline?: number;
  seq?: number;
  /** Extension (README), on detect_triggers and stop: the agent took the last detect's events. */
  taken?: boolean;
};

/** `ActionRequest` of interface.go (plus `variables`, `timeout` in seconds): ours, with when it was asked. */
export type WireActionRequest = ActionRequest & { requested_at: string };

export function actionRequestToWire(request: ActionRequest, now = new Date()): WireActionRequest {
  return { ...request, requested_at: now.toISOString() };
}

const Dict = v.record(v.string(), v.unknown());

/** An error as plugins write it: a string (interface.go) or an object with a message. */
const WireError = v.union([v.string(), v.looseObject({ message: v.string(), code: v.optional(v.string()), retryable: v.optional(v.boolean()) })]);

export const AnswerSchema = v.looseObject({
  action: v.string(),
  success: v.boolean(),
  data: v.optional(v.unknown()),
  error: v.nullish(WireError),
});
export type Answer = v.InferOutput<typeof AnswerSchema>;

/**
 * What the plugins' main loop prints when a handler raises (`{"error": "Plugin error: …"}`) or a request is
 * not JSON: no action. It answers the request in flight, so it fails that call as `plugin_error`.
 */
export const BareErrorSchema = v.looseObject({ error: v.string() });

const RunId = v.pipe(v.string(), v.uuid());

const SeveritySchema = v.picklist(["low", "medium", "high", "critical"]);

/** TriggerEvent of interface.go; `id`, `source` and `timestamp` are the plugin's own, kept in metadata. */
const EventSchema = v.looseObject({
  type: v.pipe(v.string(), v.minLength(1)),
  severity: v.nullish(SeveritySchema),
  data: v.nullish(Dict),
  metadata: v.nullish(Dict),
  tags: v.nullish(v.array(v.string())),
  dedupe_key: v.nullish(v.string()),
  id: v.nullish(v.string()),
  source: v.nullish(v.string()),
  timestamp: v.nullish(v.string()),
});


/** ActionResult of interface.go (`started_at`, `duration`, … are allowed and not kept). */
const ActionResultSchema = v.looseObject({
  id: v.nullish(v.string()),
  status: v.picklist(["completed", "failed", "cancelled", "timeout"]),
  data: v.nullish(Dict),
  error: v.nullish(WireError),
});

/** Health of interface.go; `unknown` reads as degraded. */
const HealthSchema = v.looseObject({
  status: v.picklist(["healthy", "degraded", "unhealthy", "unknown"]),
  message: v.nullish(v.string()),
});

/** A data payload that does not fit its action: the message says which field. */
export class ShapeError extends Error {
  override name = "ShapeError";
}

function parse<S extends v.GenericSchema>(schema: S, value: unknown, what: string): v.InferOutput<S> {
  const result = v.safeParse(schema, value);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const path = issue?.path?.map((item) => String(item.key)).join(".");
  throw new ShapeError(`${what}: ${path ? `${path}: ` : ""}${issue?.message ?? "invalid"}`);
}

/** The code and retryable flag an error object carries (the plugin host's answers keep them). */
export function errorInfo(error: v.InferOutput<typeof WireError> | null | undefined): { code?: string; retryable?: boolean } {
  if (error == null || typeof error !== "object") return {};
  return { ...(error.code ? { code: error.code } : {}), ...(error.retryable === true ? { retryable: true } : {}) };
}

export function errorText(error: v.InferOutput<typeof WireError> | null | undefined): string | undefined {
  if (error == null) return undefined;
  return typeof error === "string" ? error : error.message;
}

/**
 * `runIds`: the child is the agent's plugin host, whose `id` is the worker runtime's event id (kept as
 * the event's own); a plugin's own `id` is kept in metadata as `event_id`.
 */
export function toEvents(data: unknown, runIds = false): IdentifiedEvent[] {
  // One event or null, as the plugins answer; a list is accepted too.
  if (data == null) return [];
  const events = Array.isArray(data) ? parse(v.array(EventSchema), data, "detect_triggers data") : [parse(EventSchema, data, "detect_triggers data")];
  return events.map((event) => {
    if (runIds && event.id != null && !v.is(RunId, event.id)) throw new ShapeError(`detect_triggers data: id: not a UUID: ${JSON.stringify(event.id).slice(0, 100)}`);
    const origin = { event_id: runIds ? undefined : event.id, source: event.source, timestamp: event.timestamp };
    const metadata: Record<string, unknown> = { ...event.metadata };
    for (const [key, value] of Object.entries(origin)) if (value != null && !(key in metadata)) metadata[key] = value;
    const out: IdentifiedEvent = { type: event.type, data: event.data ?? {}, metadata };
    if (runIds && event.id != null) out.id = event.id;
    if (event.severity != null) out.severity = event.severity;
    if (event.tags != null) out.tags = event.tags;
    if (event.dedupe_key != null) out.dedupe_key = event.dedupe_key;
    return out;
  });
}

export function toActionResult(data: unknown, requestId: string): ActionResult {
  const parsed = parse(ActionResultSchema, data, "execute_action data");
  if (parsed.id != null && parsed.id !== requestId) {
    throw new ShapeError(`execute_action data: id "${parsed.id}" answers another request than "${requestId}"`);
  }
  const result: ActionResult = { status: parsed.status === "completed" ? "completed" : "failed" };
  if (parsed.data != null) result.data = parsed.data;
  if (parsed.status !== "completed") {
    const code = parsed.status === "failed" ? "plugin_error" : parsed.status;
    const wire = parsed.error;
    const error: PluginErrorInfo = { message: errorText(wire) ?? `action ${parsed.status}`, code };
    if (wire != null && typeof wire === "object" && wire.code) error.code = wire.code;
    if (wire != null && typeof wire === "object" && wire.retryable === true) error.retryable = true;
    result.error = error;
  }
  return result;
}

export function toHealth(data: unknown): PluginHealth {
  const parsed = parse(HealthSchema, data, "get_health data");
  const health: PluginHealth = { status: parsed.status === "unknown" ? "degraded" : parsed.status };
  if (parsed.message != null && parsed.message !== "") health.message = parsed.message;
  return health;
}
