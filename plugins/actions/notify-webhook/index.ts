/**
 * notify-webhook: posts a Slack-compatible message (`text`, `blocks`) to a webhook the agent's own
 * config names. The instruction picks a webhook by name and writes the message; it never supplies
 * a URL. Retries 429, 5xx and network failures a bounded number of times, honouring Retry-After.
 */
import { defineAction, type PluginContext } from "../../../src/sdk/index.ts";
import { failure, parseParameters } from "./_errors.ts";
import { retryDelay, wait } from "../../../src/sdk/index.ts";
import { ConfigSchema, ParametersSchema, type NotifyConfig } from "./_schema.ts";

type Ctx = PluginContext<NotifyConfig>;
/** Bytes of a response body kept for the result (Slack answers "ok" or a short error code). */
const RESPONSE_BYTES = 1024;

export default defineAction({
  configSchema: ConfigSchema,
  init(ctx) {
    const name = ctx.config.default_webhook;
    if (name && !ctx.config.webhooks[name]) throw new Error(`notify-webhook: default_webhook ${JSON.stringify(name)} is not one of webhooks (${Object.keys(ctx.config.webhooks).join(", ")})`);
  },
  async execute(ctx, request) {
    const params = parseParameters(ParametersSchema, request.parameters);
    const name = params.webhook ?? ctx.config.default_webhook;
    if (!name) throw failure("invalid_parameters", `parameters.webhook: required (no default_webhook is configured; known: ${known(ctx)})`);
    const url = webhookUrl(ctx, name);
    const body = JSON.stringify({ ...(params.text !== undefined && { text: params.text }), ...(params.blocks && { blocks: params.blocks }) });
    // The URL is a credential (anyone holding a Slack webhook URL can post): never report it.
    const hide = (text: string) => text.replaceAll(url, `<webhook ${name}>`);
    const started = performance.now();

    for (let attempt = 1; ; attempt++) {
      const outcome = await post(ctx, url, body);
      const durationMs = Math.round(performance.now() - started);
      if (outcome.status !== undefined && outcome.status >= 200 && outcome.status < 300) {
        ctx.logger.info("webhook notified", { request_id: request.id, webhook: name, attempts: attempt, status: outcome.status, duration_ms: durationMs });
        return { status: "completed", data: { webhook: name, status: outcome.status, response: hide(outcome.text), attempts: attempt, duration_ms: durationMs } };
      }
      if (ctx.signal.aborted) throw failure("aborted", `webhook ${name}: aborted on attempt ${attempt}`, { cause: ctx.signal.reason });
      const problem = hide(outcome.status === undefined ? outcome.text : `status ${outcome.status}${outcome.text ? `: ${outcome.text}` : ""}`);
      // 429 and 5xx are the server asking to try later; any other answer (a 3xx too: redirects are
      // not followed) will not change on a retry.
      if (outcome.status !== undefined && outcome.status !== 429 && outcome.status < 500) {
        throw failure("rejected", `webhook ${name}: ${problem} (not retried)`);
      }
      if (attempt >= ctx.config.max_attempts) {
        throw failure("gave_up", `webhook ${name}: gave up after ${attempt} attempt${attempt === 1 ? "" : "s"}; last: ${problem}`, { retryable: true });
      }
      const delay = retryDelay(attempt, outcome.retryAfter, ctx.config);
      if (delay === undefined) {
        throw failure("gave_up", `webhook ${name}: the server asks to wait ${outcome.retryAfter} (Retry-After), longer than max_backoff_ms ${ctx.config.max_backoff_ms}; last: ${problem}`, { retryable: true });
      }
      ctx.logger.warn("webhook attempt failed; retrying", { request_id: request.id, webhook: name, attempt, problem, retry_in_ms: delay });
      try {
        await wait(delay, ctx.signal);
      } catch (cause) {
        throw failure("aborted", `webhook ${name}: aborted while waiting to retry after attempt ${attempt} (${problem})`, { cause });
      }
    }
  },
});

interface Outcome {
  /** Undefined when no response came (network failure, attempt timeout). */
  status?: number;
  retryAfter: string | null;
  /** The start of the response body, or what went wrong. */
  text: string;
}

/** One attempt; it does not throw: a failure is an outcome without status. */
async function post(ctx: Ctx, url: string, body: string): Promise<Outcome> {
  try {
    const response = await ctx.fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8" },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(ctx.config.timeout_ms),
    });
    const text = await excerpt(response).catch((cause: unknown) => `(response body unreadable: ${(cause as Error).message})`);
    return { status: response.status, retryAfter: response.headers.get("retry-after"), text };
  } catch (cause) {
    const timedOut = (cause as Error).name === "TimeoutError";
    return { retryAfter: null, text: timedOut ? `no response within ${ctx.config.timeout_ms} ms` : (cause as Error).message ?? String(cause) };
  }
}

/** The URL of webhook `name` from the config: given, or read from the variable it names. */
function webhookUrl(ctx: Ctx, name: string): string {
  const hook = Object.hasOwn(ctx.config.webhooks, name) ? ctx.config.webhooks[name] : undefined;
  if (!hook) throw failure("not_allowed", `parameters.webhook: ${JSON.stringify(name)} is not a configured webhook (known: ${known(ctx)})`);
  if (hook.url) return hook.url;
  const url = hook.url_env ? ctx.secret(hook.url_env) : undefined;
  if (!url) throw failure("not_configured", `webhook ${name}: its url_env ${hook.url_env} is not set in the agent's environment`);
  if (!/^https?:\/\//i.test(url) || !URL.canParse(url)) throw failure("not_configured", `webhook ${name}: ${hook.url_env} does not hold an http(s) URL`);
  return url;
}

const known = (ctx: Ctx) => Object.keys(ctx.config.webhooks).join(", ");

async function excerpt(response: Response): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < RESPONSE_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  await reader.cancel().catch(() => {});
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, RESPONSE_BYTES)).trim();
}
