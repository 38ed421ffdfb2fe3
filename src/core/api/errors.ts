/**
 * Every failure of a call to the orchestrator becomes one ApiError, and this file alone decides
 * which of them are worth repeating: the retry loop, the auth gate and the callers only read
 * `kind` and `retryable`.
 */
import { isNetworkError } from "ky";
import { StavilyError } from "../errors.ts";
import { redactText } from "../redact.ts";

export type ApiErrorKind = "network" | "timeout" | "http" | "malformed" | "auth" | "too_large";

export interface ApiErrorOptions {
  status?: number;
  retryable?: boolean;
  retryAfterMs?: number;
  cause?: unknown;
}

export class ApiError extends StavilyError {
  readonly kind: ApiErrorKind;
  readonly status?: number;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;

  constructor(kind: ApiErrorKind, message: string, options: ApiErrorOptions = {}) {
    // Messages can quote an answer of the server, which may echo the token back.
    super("api", redactText(message), { cause: options.cause });
    this.name = "ApiError";
    this.kind = kind;
    this.status = options.status;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Statuses after which the same request may succeed: the server was busy, slow or broken for a moment. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

/** A non-2xx answer. `label` is `[METHOD] "/agents/v1/…"`. */
export function httpError(label: string, status: number, options: { retryAfterMs?: number; excerpt?: string } = {}): ApiError {
  const detail = options.excerpt ? `: ${options.excerpt}` : "";
  if (status === 401 || status === 403) {
    return new ApiError("auth", `${label}: ${status}, the orchestrator refused the agent's token${detail}`, { status });
  }
  if (status >= 300 && status <= 399) {
    return new ApiError("http", `${label}: ${status}, redirected${detail}; set api.base_url to the final address`, { status });
  }
  const retryable = isRetryableStatus(status);
  return new ApiError("http", `${label}: ${status}${detail}`, { status, retryable, retryAfterMs: retryable ? options.retryAfterMs : undefined });
}

/** Certificate problems do not heal by themselves; repeating the handshake only delays the report. */
const TLS_CODE = /CERT|UNABLE_TO_VERIFY|SELF_SIGNED|HOSTNAME|ERR_TLS|ERR_SSL|EPROTO/i;

/** A request that got no answer: the deadline passed or the connection failed. */
export function transportError(label: string, error: unknown, timedOut: boolean, timeoutMs: number): ApiError {
  if (timedOut) return new ApiError("timeout", `${label}: no answer within ${timeoutMs} ms`, { retryable: true, cause: error });
  // ky wraps the runtime's error in its NetworkError; the runtime's code is on the cause.
  const inner = isNetworkError(error) && error.cause ? error.cause : error;
  const code = (inner as { code?: unknown } | undefined)?.code;
  const message = inner instanceof Error ? inner.message : String(inner);
  const tls = typeof code === "string" && TLS_CODE.test(code);
  return new ApiError("network", `${label}: ${tls ? "TLS" : "connection"} failed: ${message}${typeof code === "string" ? ` (${code})` : ""}`, {
    retryable: !tls,
    cause: error,
  });
}

/** An answer that arrived but cannot be used: never repeated, since the server would say the same again. */
export function malformedError(label: string, status: number, problem: string, cause?: unknown): ApiError {
  return new ApiError("malformed", `${label}: ${status}, malformed answer: ${problem}`, { status, cause });
}

export function tooLargeError(label: string, status: number, limit: number): ApiError {
  return new ApiError("too_large", `${label}: ${status}, answer larger than ${limit} bytes`, { status });
}
