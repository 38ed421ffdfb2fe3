/** The configuration; plugin.yaml declares the same fields and defaults (a test checks they agree). */
import * as v from "valibot";

const percent = (fallback: number) => v.optional(v.pipe(v.number(), v.minValue(0)), fallback);

export const ConfigSchema = v.pipe(
  v.object({
    /** RAM in use (total − available), percent, at or above which memory.high is medium. */
    warning: percent(80),
    /** RAM in use, percent, at or above which memory.high is high. */
    critical: percent(90),
    /** Swap in use, percent, at or above which swap.high is medium. */
    swap_warning: percent(80),
    /** Swap in use, percent, at or above which swap.high is high. */
    swap_critical: percent(95),
  }),
  v.check((c) => c.warning <= c.critical, "warning is above critical"),
  v.check((c) => c.swap_warning <= c.swap_critical, "swap_warning is above swap_critical"),
);

export type MemoryConfig = v.InferOutput<typeof ConfigSchema>;
