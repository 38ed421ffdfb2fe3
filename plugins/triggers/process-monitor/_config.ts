/** The configuration; plugin.yaml declares the same fields and defaults (a test checks they agree). */
import * as v from "valibot";

export const SEVERITIES = ["low", "medium", "high", "critical"] as const;

const isRegExp = (source: string) => {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
};

export const ConfigSchema = v.pipe(
  v.object({
    /** The process's name exactly (comm, as ps -o comm shows it; a longer name is checked against argv[0]). */
    name: v.optional(v.string(), ""),
    /** A regular expression searched in the command line (arguments joined by spaces). */
    pattern: v.optional(v.pipe(v.string(), v.check(isRegExp, "expected a regular expression")), ""),
    /** running: report process.absent when none matches; stopped: report process.present when one does. */
    expect: v.optional(v.picklist(["running", "stopped"]), "running"),
    /** Report process.cpu.high when a matching process uses more than this percent of one core between two detects. */
    max_cpu_percent: v.optional(v.pipe(v.number(), v.minValue(0))),
    /** Report process.memory.high when a matching process's resident memory is over this many MiB. */
    max_memory_mb: v.optional(v.pipe(v.number(), v.minValue(0))),
    /** Severity of process.absent and process.present (cpu and memory events are medium). */
    severity: v.optional(v.picklist(SEVERITIES), "high"),
  }),
  v.check((c) => (c.name === "") !== (c.pattern === ""), "set exactly one of name and pattern"),
);

export type ProcessConfig = v.InferOutput<typeof ConfigSchema>;
