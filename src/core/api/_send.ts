/**
 * One call to the orchestrator, with everything around it: auth gate, rate limit, deadline,
 * headers, answer validation, and the retry loop. ky's own retry is off: it cannot tell a keyed
 * POST from an unkeyed one, re-read a token after a 401, or share our rate limiter.
 */
import ky from "ky";
import type * as v from "valibot";
import type { Config } from "../config/index.ts";
import type { Logger } from "../log/index.ts";
import type { AuthGate } from "./_auth-gate.ts";
import { backoffDelay, parseRetryAfter, sleep } from "./_backoff.ts";
import { decode, excerpt, readCapped, reject } from "./_body.ts";
import type { RateLimiter } from "./_rate-limit.ts";
import type { TokenSource } from "./_token.ts";
import type { Transport } from "./_transport.ts";
import { ApiError, httpError, transportError } from "./errors.ts";
import type { ApiState } from "./types.ts";

export interface SendSpec<TSchema extends v.GenericSchema> {
  method: "GET" | "POST" | "PUT";
  /** Below /agents/v1/{agent_id}, starting with "/". */
  path: string;
  /** `path` with its ids as placeholders, for metrics (default: path). */
  route?: string;
  search?: Record<string, string>;
  body?: unknown;
  /** Makes a POST safe to repeat; the same key on every attempt. */
  idempotencyKey?: string;
  /** Added to api.timeout (the wait of a long poll). */
  extraTimeoutMs?: number;
  schema: TSchema;
  /** The answer when the body is empty (204); without it an empty body is malformed. */
  empty?: v.InferOutput<TSchema>;
  signal?: AbortSignal;
}

export interface SendDeps {
  api: Config["api"];
  root: string;
  userAgent: string;
  transport: Transport;
  tokens: TokenSource;
  gate: AuthGate;
  limiter: RateLimiter;
  state: ApiState;
  logger?: Logger;
  onCall?: OnCall;
  /** The orchestrator refused the token (401/403), once per streak of refusals. */
  onAuthFailure?: (endpoint: string, status: number) => void;
}

/** Told of every HTTP attempt: the route template, the status or the error kind, how long it took. */
export type OnCall = (endpoint: string, outcome: number | string, ms: number, method: string) => void;

export type Send = <TSchema extends v.GenericSchema>(spec: SendSpec<TSchema>) => Promise<v.InferOutput<TSchema>>;

export function createSend(deps: SendDeps): Send {
  const { api, gate, tokens, logger, state } = deps;
  const http = ky.create({ fetch: deps.transport.fetch, retry: 0, timeout: false, throwHttpErrors: false, redirect: "manual" });
  const pathPrefix = new URL(deps.root).pathname;
  // The agent id (the root's last segment) becomes {id} in metrics: one series per route, not per agent.
  const routePrefix = pathPrefix.replace(/\/[^/]*$/, "/{id}");

  async function attempt<TSchema extends v.GenericSchema>(spec: SendSpec<TSchema>, label: string): Promise<v.InferOutput<TSchema>> {
    const timeoutMs = api.timeout + (spec.extraTimeoutMs ?? 0);
    // Serialised before the request: a body that cannot be sent is a bug of the caller, not a network error.
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    const headers: Record<string, string> = {
      authorization: `Bearer ${tokens.current()}`,
      "content-type": "application/json",
      accept: "application/json",
      "user-agent": deps.userAgent,
      traceparent: traceparent(),
    };
    if (spec.idempotencyKey !== undefined) headers["idempotency-key"] = spec.idempotencyKey;
    const query = spec.search ? `?${new URLSearchParams(spec.search)}` : "";
    // One deadline for the whole exchange, headers and body. Linked by hand rather than with
    // AbortSignal.any/timeout so nothing stays attached to the caller's long-lived signal or timer list.
    const controller = new AbortController();
    const signal = controller.signal;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, "TimeoutError"));
    }, timeoutMs);
    const started = performance.now();
    let outcome: number | string | undefined;
    const onAbort = () => controller.abort(spec.signal?.reason);
    if (spec.signal?.aborted) onAbort();
    spec.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const response = await http(`${deps.root}${spec.path}${query}`, { method: spec.method, headers, body, signal });
      outcome = response.status;
      const context = { label, status: response.status, logger, signal };
      if (!response.ok) {
        const bytes = await readCapped(response, { ...context, limit: 4096 }).catch(() => new Uint8Array());
        throw httpError(label, response.status, { retryAfterMs: parseRetryAfter(response.headers.get("retry-after")), excerpt: excerpt(bytes) });
      }
      let bytes: Uint8Array;
      try {
        bytes = await readCapped(response, context);
      } catch (error) {
        if (error instanceof ApiError || signal.aborted) throw error;
        throw reject(`truncated: the connection closed while the answer was read (${(error as Error).message})`, new Uint8Array(), context, error);
      }
      if (bytes.byteLength === 0) {
        if (spec.empty !== undefined) return spec.empty;
        throw reject("empty body", bytes, context);
      }
      return decode(spec.schema, bytes, context);
    } catch (error) {
      if (error instanceof ApiError) {
        // A 200 whose body is unusable is an error too, counted as what was wrong with it.
        if (error.kind === "malformed" || error.kind === "too_large") outcome = error.kind;
        throw error;
      }
      if (spec.signal?.aborted) throw spec.signal.reason;
      const failure = transportError(label, error, timedOut, timeoutMs);
      outcome ??= failure.kind;
      throw failure;
    } finally {
      if (outcome !== undefined) deps.onCall?.(`${routePrefix}${spec.route ?? spec.path}`, outcome, performance.now() - started, spec.method);
      clearTimeout(timer);
      spec.signal?.removeEventListener("abort", onAbort);
    }
  }

  function failed(error: ApiError): void {
    state.lastError = error.message;
    if (error.kind !== "malformed" && error.kind !== "too_large" && !(error.kind === "http" && !error.retryable)) state.ready = false;
  }

  return async function send(spec) {
    const label = `[${spec.method}] "${pathPrefix}${spec.path}"`;
    // An unkeyed POST may have been carried out before the failure; repeating it could do it twice.
    const repeatable = spec.method !== "POST" || spec.idempotencyKey !== undefined;
    let retries = 0;
    let authRetried = false;
    for (;;) {
      tokens.current(); // a changed token file opens the auth gate at once
      gate.check(label, tokens.generation);
      await deps.limiter.acquire(spec.signal);
      try {
        const output = await attempt(spec, label);
        gate.succeeded();
        Object.assign(state, { ready: true, authFailing: false, lastSuccessAt: Date.now(), lastError: undefined });
        return output;
      } catch (error) {
        if (spec.signal?.aborted) throw spec.signal.reason;
        if (!(error instanceof ApiError)) throw error;
        if (error.kind === "auth") {
          const refused = tokens.generation;
          const changed = tokens.reload();
          if (changed && repeatable && !authRetried) {
            authRetried = true;
            continue;
          }
          if (!changed) {
            gate.failed(refused);
            // Once per streak, for the audit log: the gate holds calls back from here on.
            if (!state.authFailing) deps.onAuthFailure?.(`${routePrefix}${spec.route ?? spec.path}`, error.status ?? 0);
            state.authFailing = true;
          }
          failed(error);
          throw error;
        }
        if (!error.retryable || !repeatable || retries >= api.retry_attempts) {
          failed(error);
          throw error;
        }
        const delay = error.retryAfterMs ?? backoffDelay(retries, api.retry_delay);
        retries++;
        logger?.debug("retrying a call to the orchestrator", { request: label, error: error.message, retry: retries, delay_ms: delay });
        await sleep(delay, spec.signal);
      }
    }
  };
}

/** A fresh W3C trace context, so the orchestrator's logs of one call can be found from ours. */
export function traceparent(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  const hex = Buffer.from(bytes).toString("hex");
  return `00-${hex.slice(0, 32)}-${hex.slice(32, 48)}-01`;
}
