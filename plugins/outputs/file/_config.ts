/**
 * The configuration; plugin.yaml declares the same fields and defaults (a test checks they agree).
 * Sizes and durations are written as the agent's own logging options are (100MiB, 30d).
 */
import * as v from "valibot";
import { parseDuration, parseSize } from "../../../src/core/config/index.ts";

const unit = (parse: (text: string) => number | undefined, expected: string) =>
  v.pipe(
    v.union([v.string(), v.number()]),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const value = parse(String(dataset.value));
      if (value === undefined) {
        addIssue({ message: `expected ${expected}, got ${JSON.stringify(dataset.value)}` });
        return NEVER;
      }
      return value;
    }),
  );

export const ConfigSchema = v.object({
  /** Absolute path of the live file. */
  path: v.pipe(v.string(), v.regex(/^\//, "expected an absolute path")),
  /** Bytes; rotate before a batch would pass it; 0 = never. */
  max_size: v.optional(unit(parseSize, "a size like 100MiB or 50MB"), "100MiB"),
  /** Rotated files kept; 0 = all. */
  max_backups: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(10_000)), 5),
  /** Milliseconds; older rotated files are deleted; 0 = no age limit. */
  max_age: v.optional(unit(parseDuration, "a duration like 30d or 12h"), "30d"),
  /** Gzip rotated files. */
  compress: v.optional(v.boolean(), false),
  /** fsync after each batch. */
  fsync: v.optional(v.boolean(), false),
});

export type FileConfig = v.InferOutput<typeof ConfigSchema>;
