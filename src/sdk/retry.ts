/**
 * Retrying what a plugin sends: when to try again (the server's Retry-After, else doubling
 * backoff, capped) and an abortable wait. Shared by the webhook, notify-webhook and
 * service-restart built-ins, and offered to plugin authors.
 */

export interface BackoffOptions {
  backoff_ms: number;
  max_backoff_ms: number;
}

/** Statuses worth another attempt: the server is asking to be tried later. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
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

/** A Retry-After header (seconds or an HTTP date) in milliseconds from `now`, or undefined. */
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
