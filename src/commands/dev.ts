import { parseDuration } from "../core/config/units.ts";
import { usageError } from "../core/errors.ts";
import { runDev } from "../dev/run.ts";

export interface DevFlags {
  keep?: boolean;
  every?: string | number;
}

/** `stavily dev`: runs until Ctrl-C. */
export function devCommand(flags: DevFlags): Promise<number> {
  const everyMs = parseDuration(flags.every ?? "5s");
  if (everyMs === undefined || everyMs < 500) throw usageError("dev", `--every: expected a duration of at least 500ms like "5s", got "${flags.every}"`);
  return runDev({ keep: Boolean(flags.keep), everyMs, print: (line) => console.log(line) });
}
