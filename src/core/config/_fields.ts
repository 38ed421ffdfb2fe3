/**
 * Field builders for the config schema. Each field is declared once with its default and a
 * one-line doc; the doc travels into `config schema` (JSON Schema) and docs/configuration.md.
 */
import * as v from "valibot";
import { formatDuration, formatSize, parseDuration, parseSize } from "./units.ts";

/** What a leaf holds, for environment coercion and for printing values back in their own units. */
export type FieldUnit = "duration" | "size";

// No regex flags: JSON Schema patterns have none.
const DURATION_TEXT = /^\s*(?:(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+|\d+(?:\.\d+)?)\s*$/;
const SIZE_TEXT = /^\s*\d+(?:\.\d+)?\s*(?:[bB]|[kKmMgGtT][iI]?[bB])?\s*$/;
const DURATION_EXPECTED = 'expected a duration like "30s", "5m", "1h30m" or a number of seconds';
const SIZE_EXPECTED = 'expected a size like "128MB", "1GiB" or a number of bytes';

interface Bounds {
  min?: string | number;
  max?: string | number;
  /** 0 is allowed below `min`, meaning "disabled" / "no limit". */
  zeroDisables?: boolean;
}

function bounded(kind: "duration" | "size", parse: (x: string | number) => number | undefined, bounds: Bounds) {
  const format = kind === "duration" ? formatDuration : formatSize;
  const min = bounds.min === undefined ? undefined : parse(bounds.min)!;
  const max = bounds.max === undefined ? undefined : parse(bounds.max)!;
  return v.rawTransform<string | number, number>(({ dataset, addIssue, NEVER }) => {
    const value = parse(dataset.value);
    if (value === undefined) {
      addIssue({ message: kind === "duration" ? DURATION_EXPECTED : SIZE_EXPECTED });
      return NEVER;
    }
    if (value === 0 && bounds.zeroDisables) return 0;
    if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
      const range = [min !== undefined && `at least ${format(min)}`, max !== undefined && `at most ${format(max)}`]
        .filter(Boolean)
        .join(" and ");
      const unit = kind === "duration" ? "seconds" : "bytes";
      const bare = typeof dataset.value === "number" ? ` (a bare number is ${unit})` : "";
      addIssue({ message: `expected a ${kind} of ${range}${bounds.zeroDisables ? ", or 0 to disable" : ""}${bare}` });
      return NEVER;
    }
    return value;
  });
}

function durationSchema(doc: string, bounds: Bounds) {
  return v.pipe(
    v.union([v.pipe(v.number(), v.minValue(0)), v.pipe(v.string(), v.regex(DURATION_TEXT, DURATION_EXPECTED))], DURATION_EXPECTED),
    // Doc and metadata before the transform: the JSON Schema export stops at the first transform.
    v.description(doc),
    v.metadata({ unit: "duration" satisfies FieldUnit }),
    bounded("duration", parseDuration, bounds),
  );
}

/** A duration, parsed to milliseconds. */
export function duration(fallback: string, doc: string, bounds: Bounds = {}) {
  return v.optional(durationSchema(`${doc} (default ${fallback})`, bounds), fallback);
}

/** A duration whose default comes from another key, filled in after parsing. */
export function optionalDuration(doc: string, bounds: Bounds = {}) {
  return v.optional(durationSchema(doc, bounds));
}

/** A size, parsed to bytes. */
export function size(fallback: string, doc: string, bounds: Bounds = {}) {
  return v.optional(
    v.pipe(
      v.union([v.pipe(v.number(), v.integer(), v.minValue(0)), v.pipe(v.string(), v.regex(SIZE_TEXT, SIZE_EXPECTED))], SIZE_EXPECTED),
      v.description(`${doc} (default ${fallback})`),
      v.metadata({ unit: "size" satisfies FieldUnit }),
      bounded("size", parseSize, bounds),
    ),
    fallback,
  );
}

export function str(fallback: string, doc: string) {
  return v.optional(v.pipe(v.string(), v.description(doc + (fallback ? ` (default "${fallback}")` : ""))), fallback);
}

export function bool(fallback: boolean, doc: string) {
  return v.optional(v.pipe(v.boolean(), v.description(`${doc} (default ${fallback})`)), fallback);
}

export function int(fallback: number, doc: string, min: number, max: number) {
  return v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max), v.description(`${doc} (default ${fallback})`)),
    fallback,
  );
}

export function num(fallback: number, doc: string, min: number, max: number) {
  return v.optional(v.pipe(v.number(), v.minValue(min), v.maxValue(max), v.description(`${doc} (default ${fallback})`)), fallback);
}

export function oneOf<const T extends readonly [string, ...string[]]>(options: T, fallback: T[number], doc: string) {
  return v.optional(v.pipe(v.picklist(options), v.description(`${doc} (default "${fallback}")`)), fallback);
}

export function strings(doc: string) {
  return v.optional(v.pipe(v.array(v.string()), v.description(`${doc} (default [])`)), () => []);
}

/** A section: unknown keys are errors, and a missing section takes every default. */
export function section<const T extends v.ObjectEntries>(entries: T, doc: string) {
  const schema = v.pipe(v.strictObject(entries), v.description(doc));
  return v.optional(schema, {} as v.InferInput<typeof schema>);
}
