/** How long to wait before the next attempt, and an abortable wait. */

export interface BackoffOptions {
  backoff_ms: number;
  max_backoff_ms: number;
}

/**
 * Milliseconds before attempt `attempt + 1`: the server's Retry-After (seconds or an HTTP date)
 * when it sent one, else backoff_ms doubled per attempt, capped at max_backoff_ms. A Retry-After
 * beyond max_backoff_ms gives `undefined`: waiting less than the server asked would be ignoring it.
 */
export function retryDelay(attempt: number, retryAfter: string | null, options: BackoffOptions, now = Date.now()): number | undefined {
  const asked = parseRetryAfter(retryAfter, now);
  if (asked !== undefined) return asked <= options.max_backoff_ms ? asked : undefined;
  return Math.min(options.backoff_ms * 2 ** (attempt - 1), options.max_backoff_ms);
}

function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
