/** The configuration; plugin.yaml declares the same fields and defaults (a test checks they agree). */
import * as v from "valibot";

export const SEVERITIES = ["low", "medium", "high", "critical"] as const;

export const ConfigSchema = v.object({
  /** Percent busy at or above which a sample counts as high; above 100 never fires. */
  threshold: v.optional(v.pipe(v.number(), v.minValue(0)), 90),
  /** Consecutive high samples before cpu.high, and consecutive lower ones before cpu.high.resolved. */
  samples: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 3),
  /** Each core on its own (dedupe_key cpu0, cpu1, …) instead of the machine's total. */
  per_core: v.optional(v.boolean(), false),
  /** Severity of cpu.high. */
  severity: v.optional(v.picklist(SEVERITIES), "high"),
});

export type CpuConfig = v.InferOutput<typeof ConfigSchema>;
