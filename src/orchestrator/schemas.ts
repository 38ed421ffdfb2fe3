/**
 * Bodies of the admin API (/api/v1). The instruction fields are taken from the shared agents/v1
 * InstructionSchema so both APIs agree on names, types and defaults.
 */
import * as v from "valibot";
import { parseDuration } from "../core/config/units.ts";
import { InstructionSchema, SEVERITIES } from "../core/protocol/index.ts";

const nonEmpty = v.pipe(v.string(), v.minLength(1, "must not be empty"), v.maxLength(200));

/** Seconds as a number, or a duration such as "30s", "5m", "1h". */
const Duration = v.pipe(
  v.union([v.pipe(v.number(), v.minValue(0)), v.string()], "expected seconds or a duration such as 5m"),
  v.transform((input) => parseDuration(input)),
  v.check((ms) => ms !== undefined, "expected seconds or a duration such as 5m"),
  v.transform((ms) => ms!),
);

const InstructionFields = v.pick(InstructionSchema, [
  "plugin_id",
  "instruction_type",
  "plugin_configuration",
  "input_data",
  "context",
  "variables",
  "timeout_seconds",
  "max_retries",
  "priority",
  "correlation_id",
  "expires_at",
]).entries;

export const CreateInstructionSchema = v.object({
  agent_id: nonEmpty,
  ...InstructionFields,
  plugin_id: nonEmpty,
  /** Milliseconds after creation past which a pending instruction is failed, not delivered. */
  expires_in: v.optional(Duration),
});
export type CreateInstructionBody = v.InferOutput<typeof CreateInstructionSchema>;

const Scalar = v.union([v.string(), v.number(), v.boolean(), v.null()]);

export const RuleSchema = v.object({
  name: v.optional(v.string(), ""),
  match: v.object({
    type: nonEmpty,
    source: v.optional(v.string()),
    severity: v.optional(v.picklist(SEVERITIES)),
    agent_id: v.optional(v.string()),
    /** Each listed field of `event.data` must equal the value. */
    data: v.optional(v.record(v.string(), Scalar)),
  }),
  /** The instruction to create; string values may hold {{event.type}}, {{event.agent_id}}, {{event.data.field}}. */
  action: CreateInstructionSchema,
});
export type RuleBody = v.InferOutput<typeof RuleSchema>;
