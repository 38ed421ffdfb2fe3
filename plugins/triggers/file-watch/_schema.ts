/** The configuration (mirrors plugin.yaml, which documents each field for operators). */
import * as v from "valibot";

const int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const globs = v.array(v.pipe(v.string(), v.minLength(1)));

export const ConfigSchema = v.object({
  /** Directories (recursive) or single files. */
  paths: v.pipe(v.array(v.pipe(v.string(), v.regex(/^\//, "expected an absolute path"))), v.minLength(1, "list at least one path")),
  /** Relative to each directory; a file must match one. */
  globs: v.optional(v.pipe(globs, v.minLength(1)), () => ["**/*"]),
  /** Relative to each directory; matching files are ignored and matching directories not entered. */
  exclude: v.optional(globs, () => []),
  /** The first run ever reports what it finds (else it only takes the snapshot). */
  report_existing: v.optional(v.boolean(), false),
  max_files: v.optional(int(1, 100_000), 10_000),
  /** Changes per detect; the rest come with the next ones. */
  max_events: v.optional(int(1, 1000), 500),
});

export type FileWatchConfig = v.InferOutput<typeof ConfigSchema>;
