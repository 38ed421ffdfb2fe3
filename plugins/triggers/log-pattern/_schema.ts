/** The configuration (mirrors plugin.yaml, which documents each field for operators). */
import * as v from "valibot";

const int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));

export const ConfigSchema = v.pipe(
  v.object({
    /** The log file; may be missing for now, rotated or truncated. */
    path: v.pipe(v.string(), v.regex(/^\//, "expected an absolute path")),
    /** Matched against each line, unanchored; compiled (and refused when invalid) at init. */
    pattern: v.pipe(v.string(), v.minLength(1, "expected a regular expression")),
    ignore_case: v.optional(v.boolean(), false),
    /** Where the first run starts when no position is saved. */
    start_at: v.optional(v.picklist(["end", "beginning"]), "end"),
    event_type: v.optional(v.pipe(v.string(), v.minLength(1)), "log.match"),
    /** Matches per detect; later lines wait for the next detect. */
    max_events: v.optional(int(1, 1000), 100),
    max_bytes_per_detect: v.optional(int(4096, 64 * 1024 * 1024), 1024 * 1024),
    max_line_bytes: v.optional(int(64, 1024 * 1024), 8192),
  }),
  v.check((config) => config.max_bytes_per_detect > config.max_line_bytes, "max_bytes_per_detect must exceed max_line_bytes"),
);

export type LogPatternConfig = v.InferOutput<typeof ConfigSchema>;

/** The pattern as a RegExp, or an error naming the field (thrown by init, so the trigger refuses to start). */
export function compilePattern(config: Pick<LogPatternConfig, "pattern" | "ignore_case">): RegExp {
  try {
    return new RegExp(config.pattern, config.ignore_case ? "i" : "");
  } catch (cause) {
    const reason = (cause as Error).message.replace(/^Invalid regular expression: (\/.*\/[a-z]*: )?/, "");
    throw Object.assign(new Error(`log-pattern: pattern ${JSON.stringify(config.pattern)} is not a valid regular expression: ${reason}`, { cause }), { code: "invalid_config" });
  }
}
