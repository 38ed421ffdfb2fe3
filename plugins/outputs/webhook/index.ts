/**
 * webhook: POSTs events as JSON — `{"events": [...]}` per batch, or each event on its own with
 * `per_event` — to the operator's URL. Each request is tried up to max_attempts times: 408, 429, 5xx
 * and network failures are retried after backoff_ms (doubling) or the server's Retry-After; other
 * answers are final. A batch that could not be delivered fails with a retryable error, and the
 * sensor decides whether to send it again: delivery is at-least-once (with per_event, the events
 * before the failing one were delivered and will be sent again with the batch).
 */
import { defineOutput, type PluginContext } from "../../../src/sdk/index.ts";
import { ConfigSchema, type WebhookConfig } from "./_config.ts";
import { retryableStatus, retryDelay, wait } from "../../../src/sdk/index.ts";
import { resolveTarget, scrub, type Target, webhookError } from "./_target.ts";

type Ctx = PluginContext<WebhookConfig>;
/** Bytes of a failed response's body kept for the error message. */
const EXCERPT_BYTES = 512;

export default defineOutput({
  configSchema: ConfigSchema,
  init(ctx) {
    // A missing secret fails the start, not the first batch an hour later.
    resolveTarget(ctx);
  },
  async send(ctx, batch) {
    if (batch.length === 0) return;
    const target = resolveTarget(ctx);
    if (!ctx.config.per_event) return void (await deliver(ctx, target, JSON.stringify({ events: batch }), `${batch.length} event${batch.length === 1 ? "" : "s"}`));
    for (const [index, event] of batch.entries()) {
      try {
        await deliver(ctx, target, JSON.stringify(event), `event ${index + 1} of ${batch.length}`);
      } catch (error) {
        if (index > 0) (error as Error).message += ` (the ${index} before it were delivered)`;
        throw error;
      }
    }
  },
});

interface Outcome {
  /** Undefined when no response came (network failure, attempt timeout). */
  status?: number;
  retryAfter: string | null;
  /** The start of the body, or what went wrong. */
  text: string;
}

/** One request with its retries; returns once a 2xx came, throws otherwise. */
async function deliver(ctx: Ctx, target: Target, body: string, what: string): Promise<void> {
  const { config } = ctx;
  const where = `[POST] "${target.label}"`;
  for (let attempt = 1; ; attempt++) {
    const outcome = await post(ctx, target, body);
    if (outcome.status !== undefined && outcome.status >= 200 && outcome.status < 300) {
      if (attempt > 1) ctx.logger.info("webhook: delivered after retrying", { target: target.label, what, attempts: attempt, status: outcome.status });
      return;
    }
    // Scrubbed before quoting: JSON escapes could hide a secret from the replacement.
    const text = scrub(outcome.text, target);
    const problem = outcome.status === undefined ? text : `${outcome.status}${text ? ` ${JSON.stringify(text)}` : ""}`;
    if (ctx.signal.aborted) throw webhookError("aborted", `${where}: ${what}: aborted on attempt ${attempt} (${problem})`, { cause: ctx.signal.reason, retryable: true });
    // 3xx too: redirects are not followed, and another attempt gets the same answer.
    if (outcome.status !== undefined && !retryableStatus(outcome.status)) throw webhookError("rejected", `${where}: ${what}: ${problem} (not retried)`);
    if (attempt >= config.max_attempts) {
      throw webhookError("gave_up", `${where}: ${what}: gave up after ${attempt} attempt${attempt === 1 ? "" : "s"}; last: ${problem}`, { retryable: true });
    }
    const delay = retryDelay(attempt, outcome.retryAfter, config);
    if (delay === undefined) {
      throw webhookError("gave_up", `${where}: ${what}: Retry-After ${outcome.retryAfter} is longer than max_backoff_ms ${config.max_backoff_ms}; last: ${problem}`, { retryable: true });
    }
    ctx.logger.warn("webhook: attempt failed; retrying", { target: target.label, what, attempt, problem, retry_in_ms: delay });
    try {
      await wait(delay, ctx.signal);
    } catch (cause) {
      throw webhookError("aborted", `${where}: ${what}: aborted while waiting to retry after attempt ${attempt} (${problem})`, { cause, retryable: true });
    }
  }
}

/** One attempt; never throws: no response is an outcome without status. */
async function post(ctx: Ctx, target: Target, body: string): Promise<Outcome> {
  const { timeout_ms } = ctx.config;
  const timeout = AbortSignal.timeout(timeout_ms);
  try {
    const response = await ctx.fetch(target.url, { method: "POST", headers: target.headers, body, redirect: "manual", signal: timeout });
    const ok = response.status >= 200 && response.status < 300;
    // A success's body is not needed; reading a failure's start bounds what a hostile server can make us hold.
    const text = ok ? "" : await excerpt(response).catch((cause: unknown) => `(body unreadable: ${(cause as Error).message})`);
    if (ok) await response.body?.cancel().catch(() => {});
    return { status: response.status, retryAfter: response.headers.get("retry-after"), text };
  } catch (cause) {
    const timedOut = timeout.aborted && !ctx.signal.aborted;
    return { retryAfter: null, text: timedOut ? `no response within ${timeout_ms} ms` : ((cause as Error).message ?? String(cause)) };
  }
}

async function excerpt(response: Response): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < EXCERPT_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  await reader.cancel().catch(() => {});
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, EXCERPT_BYTES)).trim();
}
