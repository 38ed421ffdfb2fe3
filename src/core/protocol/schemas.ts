/**
 * The agents/v1 wire contract, as existing Stavily agents speak it, plus our extensions
 * (register, events, long poll, cancellation, expiry). Both ends validate with these schemas:
 * the agent every answer it receives, the orchestrator every body it is sent.
 * Unknown fields are ignored (plain `v.object`); missing optional ones are defaulted.
 */
import * as v from "valibot";

const timestamp = v.pipe(v.string(), v.isoTimestamp("expected an RFC 3339 timestamp"));
const json = v.record(v.string(), v.unknown());

export const INSTRUCTION_TYPES = ["execute", "plugin_install", "plugin_update", "plugin_uninstall"] as const;
export const PRIORITIES = ["low", "normal", "high", "urgent"] as const;
export const RESULT_STATUSES = ["completed", "failed", "timeout", "cancelled"] as const;
export const INSTRUCTION_STATUSES = ["pending", "delivered", "executing", ...RESULT_STATUSES] as const;
export const AGENT_STATUSES = ["online", "offline", "degraded"] as const;
export const SEVERITIES = ["low", "medium", "high", "critical"] as const;

export const InstructionSchema = v.object({
  id: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
  plugin_id: v.string(),
  instruction_type: v.picklist(INSTRUCTION_TYPES),
  plugin_configuration: v.optional(json, () => ({})),
  input_data: v.optional(json, () => ({})),
  context: v.optional(json),
  variables: v.optional(json),
  timeout_seconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
  max_retries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
  retry_count: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
  priority: v.optional(v.picklist(PRIORITIES), "normal"),
  correlation_id: v.optional(v.string()),
  expires_at: v.optional(timestamp),
  created_at: v.optional(timestamp),
});
export type Instruction = v.InferOutput<typeof InstructionSchema>;
export type InstructionInput = v.InferInput<typeof InstructionSchema>;

export const InstalledPluginSchema = v.object({
  id: v.string(),
  version: v.string(),
  type: v.string(),
});

/** POST /agents/v1/{agent_id}/register (extension). */
export const RegisterRequestSchema = v.object({
  agent_type: v.picklist(["sensor", "action"]),
  name: v.string(),
  version: v.string(),
  hostname: v.string(),
  os: v.string(),
  arch: v.string(),
  tenant_id: v.optional(v.string(), ""),
  environment: v.optional(v.string(), ""),
  region: v.optional(v.string(), ""),
  tags: v.optional(v.array(v.string()), () => []),
  plugins: v.optional(v.array(InstalledPluginSchema), () => []),
  max_concurrent_tasks: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
});
export type RegisterRequest = v.InferOutput<typeof RegisterRequestSchema>;

export const RegisterResponseSchema = v.object({
  registered: v.optional(v.boolean(), true),
  heartbeat_interval: v.optional(v.pipe(v.number(), v.minValue(1))),
});

/** POST /agents/v1/{agent_id}/heartbeat */
export const HeartbeatRequestSchema = v.object({
  timestamp,
  status: v.picklist(AGENT_STATUSES),
  uptime_seconds: v.optional(v.number()),
  version: v.optional(v.string()),
  running_instructions: v.optional(v.array(v.string())),
  plugins: v.optional(json),
});
export type HeartbeatRequest = v.InferOutput<typeof HeartbeatRequestSchema>;

/** The heartbeat answer is 200 with this body, or 204 with none. */
export const HeartbeatResponseSchema = v.object({
  cancel_instructions: v.optional(v.array(v.string()), () => []),
});
export type HeartbeatResponse = v.InferOutput<typeof HeartbeatResponseSchema>;

/** GET /agents/v1/{agent_id}/instructions[?wait=seconds] */
export const PollResponseSchema = v.object({
  instruction: v.nullable(InstructionSchema),
  status: v.string(),
  next_poll_interval: v.optional(v.pipe(v.number(), v.minValue(0))),
});
export type PollResponse = v.InferOutput<typeof PollResponseSchema>;

/** PUT /agents/v1/{agent_id}/instructions/{instruction_id} */
export const UpdateRequestSchema = v.object({
  status: v.optional(v.picklist(["executing", ...RESULT_STATUSES])),
  max_retries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  retry_count: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  execution_log: v.optional(v.array(v.string())),
});
export type UpdateRequest = v.InferOutput<typeof UpdateRequestSchema>;

export const UpdateResponseSchema = v.object({
  success: v.boolean(),
  instruction_id: v.string(),
  updated_fields: v.optional(v.array(v.string()), () => []),
  /** Our extension: the instruction was cancelled meanwhile; the agent stops it. */
  cancelled: v.optional(v.boolean(), false),
});
export type UpdateResponse = v.InferOutput<typeof UpdateResponseSchema>;

/** POST /agents/v1/{agent_id}/instructions/{instruction_id}/result */
export const ResultRequestSchema = v.object({
  status: v.picklist(RESULT_STATUSES),
  result: v.optional(json),
  error_message: v.optional(v.string()),
  error_details: v.optional(json),
  execution_log: v.optional(v.array(v.string())),
  retry_count: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
});
export type ResultRequest = v.InferOutput<typeof ResultRequestSchema>;

export const ResultResponseSchema = v.object({
  acknowledged: v.boolean(),
  next_instruction: v.optional(v.nullable(InstructionSchema), null),
});
export type ResultResponse = v.InferOutput<typeof ResultResponseSchema>;

/** An event a sensor reports. */
export const TriggerEventSchema = v.object({
  id: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
  type: v.pipe(v.string(), v.minLength(1)),
  source: v.string(),
  trigger_id: v.optional(v.string(), ""),
  agent_id: v.optional(v.string(), ""),
  timestamp,
  severity: v.optional(v.picklist(SEVERITIES), "medium"),
  data: v.optional(json, () => ({})),
  metadata: v.optional(json, () => ({})),
  tags: v.optional(v.array(v.string()), () => []),
  dedupe_key: v.optional(v.string()),
});
export type TriggerEvent = v.InferOutput<typeof TriggerEventSchema>;

/** POST /agents/v1/{agent_id}/events (extension), with an Idempotency-Key header. */
export const EventsRequestSchema = v.object({ events: v.array(TriggerEventSchema) });
export const EventsResponseSchema = v.object({ accepted: v.pipe(v.number(), v.integer(), v.minValue(0)) });
