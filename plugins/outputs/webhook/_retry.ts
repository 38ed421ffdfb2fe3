/**
 * When to try again. The same rule as notify-webhook's _retry.ts (Retry-After in seconds or as an
 * HTTP date, else doubling backoff, capped; a Retry-After beyond the cap ends the retries), written
 * again here because a plugin's `_` files are private to it (see the report: a shared home is due).
 */

export interface Backoff {
  backoff_ms: number;
  max_backoff_ms: number;
}

/** Statuses worth another attempt: the server is asking to be tried later. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Milliseconds before attempt `attempt + 1`, or undefined when the server asks for longer than the cap. */
export function retryDelay(attempt: number, retryAfter: string | null, options: Backoff, now = Date.now()): number | undefined {
  const asked = parseRetryAfter(retryAfter, now);
  if (asked !== undefined) return asked <= options.max_backoff_ms ? asked : undefined;
  return Math.min(options.backoff_ms * 2 ** (attempt - 1), options.max_backoff_ms);
}

export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
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
