/**
 * A token bucket (as GCRA: one "theoretical arrival time" instead of a token count), so
 * concurrent callers are served in order without a queue or a timer of its own.
 */
import { sleep } from "./_backoff.ts";

export interface RateLimiter {
  /** Waits for a token; rejects with the signal's reason if it aborts first. */
  acquire(signal?: AbortSignal): Promise<void>;
}

/** `rps` tokens a second, at most `burst` at once (default: one second's worth). */
export function createRateLimiter(rps: number, burst = Math.max(1, Math.ceil(rps)), now: () => number = performance.now.bind(performance)): RateLimiter {
  const interval = 1000 / rps;
  const tolerance = (burst - 1) * interval;
  let arrival = 0;
  return {
    async acquire(signal) {
      if (signal?.aborted) throw signal.reason;
      const at = now();
      arrival = Math.max(arrival, at);
      const wait = arrival - tolerance - at;
      // The slot is reserved before waiting so later callers queue behind this one; an aborted wait
      // gives up one token, which is cheaper than bookkeeping to hand it back.
      arrival += interval;
      if (wait > 0) await sleep(wait, signal);
    },
  };
}
