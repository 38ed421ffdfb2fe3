/**
 * Registration at start: retried with backoff until the orchestrator has it, or says (404) it
 * does not know the extension. Work does not wait for it; heartbeats and polls carry on meanwhile.
 */
import type { ApiClient } from "../api/index.ts";
import type { Logger } from "../log/index.ts";
import type { RegisterRequest } from "../protocol/index.ts";
import { errorMessage } from "../errors.ts";
import { backoff, sleep } from "../timing.ts";

export interface RegisterOptions {
  api: ApiClient;
  logger: Logger;
  body: RegisterRequest;
  signal: AbortSignal;
}

export async function registerLoop({ api, logger, body, signal }: RegisterOptions): Promise<boolean> {
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      const { supported } = await api.register(body, signal);
      if (supported) logger.info("registered with the orchestrator");
      else logger.info("the orchestrator has no register endpoint; carrying on without it");
      return supported;
    } catch (error) {
      if (signal.aborted) break;
      const waitMs = Math.max(backoff(attempt, 1_000, 60_000), 250);
      logger.warn("registration failed; retrying", { error: errorMessage(error), attempt: attempt + 1, retry_in_ms: waitMs });
      await sleep(waitMs, signal);
    }
  }
  return false;
}
