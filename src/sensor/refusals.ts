/**
 * Events the spool refused because it could not be written (disk full, read-only): counted, the
 * failure kept as a reason on /ready until an append succeeds again, and logged at once, then at
 * most once per interval while it lasts (each line saying how many since the last), and once more
 * when the spool takes events again; so the lines add up to the count.
 */
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/log/index.ts";

export function createRefusals(logger: Pick<Logger, "error" | "info">, logIntervalMs: number) {
  let failure: string | undefined;
  let total = 0;
  let unlogged = 0;
  let lastLog = 0;
  return {
    refused(trigger: string, count: number, error: unknown, now = Date.now()): void {
      total += count;
      unlogged += count;
      const first = failure === undefined;
      failure = errorMessage(error);
      if (first || now - lastLog > logIntervalMs) {
        logger.error("events could not be spooled", { trigger, count: unlogged, error: failure });
        unlogged = 0;
        lastLog = now;
      }
    },
    accepted(): void {
      if (failure === undefined) return;
      logger.info("events are spooled again", { refused: unlogged, refused_total: total });
      failure = undefined;
      unlogged = 0;
    },
    total: () => total,
    /** The reason for /ready while appends fail. */
    problems: (): string[] => (failure === undefined ? [] : [`events cannot be spooled: ${failure}`]),
  };
}
