/**
 * Instruction polling shared by both agents: long polls, honours `next_poll_interval`, and backs off
 * on errors without ever spinning. `nextInstruction` returns when an instruction arrives, or
 * undefined once `signal` aborts.
 */
import type { ApiClient } from "../api/index.ts";
import type { Instruction } from "../protocol/index.ts";
import type { Logger } from "../log/index.ts";
import { errorMessage } from "../errors.ts";
import { backoff, since, sleep } from "../timing.ts";

export interface PollOptions {
  api: ApiClient;
  logger: Logger;
  /** How long the orchestrator may hold a poll open. */
  waitSeconds: number;
  /** Pause between polls when the orchestrator names none (`agent.poll_interval`). */
  intervalMs: () => number;
  /** First wait after a failed poll, doubling (with jitter) up to a minute (`api.retry_delay`). */
  errorBackoffMs: number;
  signal: AbortSignal;
}

const ERROR_BACKOFF_CAP_MS = 60_000;
const ERROR_FLOOR_MS = 250;

export function createPoller(options: PollOptions) {
  const { api, logger, signal } = options;
  let failures = 0;
  let lastSuccess: number | undefined;

  async function nextInstruction(): Promise<Instruction | undefined> {
    while (!signal.aborted) {
      const started = Date.now();
      try {
        const answer = await api.poll({ waitSeconds: options.waitSeconds, signal });
        lastSuccess = Date.now();
        failures = 0;
        if (answer.instruction) return answer.instruction;
        // An orchestrator without long polls answers at once: wait before asking again.
        const heldMs = Date.now() - started;
        const pauseMs = answer.next_poll_interval !== undefined ? answer.next_poll_interval * 1000 : options.intervalMs();
        if (heldMs < options.waitSeconds * 1000 * 0.9) await sleep(pauseMs, signal);
      } catch (error) {
        if (signal.aborted) break;
        failures++;
        // A floor keeps full jitter from turning into a tight loop against a dead orchestrator.
        const waitMs = Math.max(backoff(failures, options.errorBackoffMs, ERROR_BACKOFF_CAP_MS), ERROR_FLOOR_MS);
        if ((failures & (failures - 1)) === 0) {
          logger.warn("instruction poll failed", { error: errorMessage(error), failures, retry_in_ms: waitMs, last_success: since(lastSuccess) });
        }
        await sleep(waitMs, signal);
      }
    }
    return undefined;
  }

  return { nextInstruction };
}
