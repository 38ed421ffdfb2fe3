/**
 * One field of a manifest's `configuration:` section: how it is declared (FieldSpecSchema), the
 * checks a declaration must pass (checkField), and the valibot schema that validates a value
 * against it (fieldValueSchema), which the plugin config validator and JSON Schema export share.
 */
import * as v from "valibot";

export const FIELD_TYPES = ["string", "integer", "number", "boolean", "array", "object"] as const;
export type FieldType = (typeof FIELD_TYPES)[number];
type EnumValue = string | number | boolean;

/** A configuration field as the manifest declares it (the same vocabulary as the Go agents' ConfigField). */
export interface FieldSpec {
  type: FieldType;
  description: string;
  /** Used when the value is absent; must itself be valid. */
  default?: unknown;
  /** Absent without a default is an error. */
  required: boolean;
  /** Numbers and integers. */
  minimum?: number;
  maximum?: number;
  /** Characters of a string, items of an array. */
  min_length?: number;
  max_length?: number;
  enum?: EnumValue[];
  /** ECMAScript regular expression a string must match somewhere (anchor it with ^…$). */
  pattern?: string;
  /** Schema of every item of an array. */
  items?: FieldSpec;
  /** Fields of an object; without it, any mapping. */
  properties?: Record<string, FieldSpec>;
  /** Documentation only (e.g. "uri", "hostname"); not enforced. */
  format?: string;
  examples?: unknown[];
}

/** The input type is loose on purpose: valibot reports what is wrong, the output is FieldSpec. */
export const FieldSpecSchema: v.GenericSchema<unknown, FieldSpec> = v.lazy(() =>
  v.strictObject(
    {
      type: v.picklist(FIELD_TYPES),
      description: v.nullish(v.string(), ""),
      default: v.optional(v.unknown()),
      required: v.optional(v.boolean(), false),
      minimum: v.optional(v.number()),
      maximum: v.optional(v.number()),
      min_length: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
      max_length: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
      enum: v.optional(v.pipe(v.array(v.union([v.string(), v.number(), v.boolean()])), v.minLength(1, "expected at least one value"))),
      pattern: v.optional(v.pipe(v.string(), v.minLength(1))),
      items: v.optional(FieldSpecSchema),
      properties: v.optional(v.record(v.string(), FieldSpecSchema)),
      format: v.optional(v.string()),
      examples: v.optional(v.array(v.unknown())),
    },
    "expected a field declaration with at least a type",
  ),
);

export interface FieldIssue {
  /** Key path below the field, e.g. ["default"] or ["items", "pattern"]. */
  path: Array<string | number>;
  message: string;
}

const ONLY_FOR: Record<string, readonly FieldType[]> = {
  minimum: ["integer", "number"],
  maximum: ["integer", "number"],
  min_length: ["string", "array"],
  max_length: ["string", "array"],
  pattern: ["string"],
  items: ["array"],
  properties: ["object"],
};

/** What schema validation cannot see: keys that do not fit the type, bounds, patterns, defaults. */
export function checkField(spec: FieldSpec, path: Array<string | number> = []): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const [key, types] of Object.entries(ONLY_FOR)) {
    if (spec[key as keyof FieldSpec] !== undefined && !types.includes(spec.type)) {
      issues.push({ path: [...path, key], message: `${key} applies to ${types.join(" and ")} fields, not ${spec.type}` });
    }
  }
  if (spec.minimum !== undefined && spec.maximum !== undefined && spec.minimum > spec.maximum) {
    issues.push({ path: [...path, "maximum"], message: `maximum ${spec.maximum} is below minimum ${spec.minimum}` });
  }
  if (spec.min_length !== undefined && spec.max_length !== undefined && spec.min_length > spec.max_length) {
    issues.push({ path: [...path, "max_length"], message: `max_length ${spec.max_length} is below min_length ${spec.min_length}` });
  }
  if (spec.pattern !== undefined) {
    try {
      new RegExp(spec.pattern);
    } catch (error) {
      issues.push({ path: [...path, "pattern"], message: `not a valid regular expression: ${(error as Error).message.replace(/^Invalid regular expression: (\/.*\/: )?/, "")}` });
    }
  }
  if (spec.items) issues.push(...checkField(spec.items, [...path, "items"]));
  for (const [name, child] of Object.entries(spec.properties ?? {})) issues.push(...checkField(child, [...path, "properties", name]));
  if (issues.length > 0) return issues;

  const bare = fieldValueSchema({ ...spec, enum: undefined });
  spec.enum?.forEach((value, index) => {
    const result = v.safeParse(bare, value);
    if (!result.success) issues.push({ path: [...path, "enum", index], message: `${result.issues[0].message}, got ${result.issues[0].received}` });
  });
  if (spec.default !== undefined && issues.length === 0) {
    const result = v.safeParse(fieldValueSchema(spec), spec.default);
    if (!result.success) {
      const issue = result.issues[0];
      const below = (issue.path ?? []).map((item) => item.key as string | number);
      const where = below.length > 0 ? ` at ${below.join(".")}` : "";
      issues.push({ path: [...path, "default"], message: `the default does not fit the field${where}: ${issue.message}, got ${issue.received}` });
    }
  }
  return issues;
}

/** The schema of a value of this field, without its default (see fieldEntry). */
export function fieldValueSchema(spec: FieldSpec): v.GenericSchema<unknown, unknown> {
  const actions: Array<v.PipeAction<any, any, v.BaseIssue<unknown>>> = [];
  let base: v.GenericSchema<unknown, unknown>;
  switch (spec.type) {
    case "string":
      base = v.string("expected a string");
      if (spec.min_length !== undefined) actions.push(v.minLength(spec.min_length, `expected at least ${spec.min_length} characters`));
      if (spec.max_length !== undefined) actions.push(v.maxLength(spec.max_length, `expected at most ${spec.max_length} characters`));
      if (spec.pattern !== undefined) actions.push(v.regex(new RegExp(spec.pattern), `expected a string matching /${spec.pattern}/`));
      break;
    case "integer":
    case "number": {
      const noun = spec.type === "integer" ? "an integer" : "a number";
      base = v.number(`expected ${noun}`);
      if (spec.type === "integer") actions.push(v.integer("expected an integer"));
      if (spec.minimum !== undefined) actions.push(v.minValue(spec.minimum, `expected ${noun} ≥ ${spec.minimum}`));
      if (spec.maximum !== undefined) actions.push(v.maxValue(spec.maximum, `expected ${noun} ≤ ${spec.maximum}`));
      break;
    }
    case "boolean":
      base = v.boolean("expected true or false");
      break;
    case "array":
      base = v.array(spec.items ? fieldValueSchema(spec.items) : v.unknown(), "expected a list");
      if (spec.min_length !== undefined) actions.push(v.minLength(spec.min_length, `expected a list of at least ${spec.min_length} items`));
      if (spec.max_length !== undefined) actions.push(v.maxLength(spec.max_length, `expected a list of at most ${spec.max_length} items`));
      break;
    case "object":
      base = spec.properties ? fieldsSchema(spec.properties, "expected a mapping") : v.record(v.string(), v.unknown(), "expected a mapping");
      break;
  }
  if (spec.enum) actions.push(v.values(spec.enum as never[], `expected one of ${spec.enum.map((value) => JSON.stringify(value)).join(", ")}`));
  if (spec.description) actions.push(v.description(spec.description));
  if (spec.examples) actions.push(v.examples(spec.examples));
  return actions.length > 0 ? (v.pipe(base, ...(actions as [v.PipeAction<any, any, v.BaseIssue<unknown>>])) as v.GenericSchema<unknown, unknown>) : base;
}

/** A field as an object entry: its default applied when absent, required when it has none. */
export function fieldEntry(spec: FieldSpec): v.GenericSchema<unknown, unknown> {
  const schema = fieldValueSchema(spec);
  if (spec.default !== undefined) {
    const fallback = spec.default;
    // A fresh copy each time: a plugin that mutates its config must not change the next one's default.
    return v.optional(schema, () => structuredClone(fallback)) as v.GenericSchema<unknown, unknown>;
  }
  if (spec.required) return schema;
  // An absent object still gets its properties' defaults, unless that would make a required one missing.
  const props = Object.values(spec.properties ?? {});
  if (props.length > 0 && !props.some((prop) => prop.required && prop.default === undefined)) {
    return v.optional(schema, () => ({})) as v.GenericSchema<unknown, unknown>;
  }
  return v.optional(schema) as v.GenericSchema<unknown, unknown>;
}

/** A mapping of fields; unknown keys are errors. */
export function fieldsSchema(fields: Record<string, FieldSpec>, message: string) {
  const entries = Object.fromEntries(Object.entries(fields).map(([name, spec]) => [name, fieldEntry(spec)]));
  return v.strictObject(entries, message);
}
