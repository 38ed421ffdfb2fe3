/** The configuration; plugin.yaml declares the same fields and defaults (a test checks they agree). */
import * as v from "valibot";

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** RFC 9110 token: what a header name may be. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));

export const ConfigSchema = v.pipe(
  v.object({
    /** The URL itself; set this or url_env. */
    url: v.optional(v.union([v.literal(""), v.pipe(v.string(), v.url("expected a URL"), v.regex(/^https?:\/\//i, "expected an http(s) URL"))]), ""),
    /** An environment variable of the agent holding the URL (ctx.secret). */
    url_env: v.optional(v.union([v.literal(""), v.pipe(v.string(), v.regex(ENV_NAME, "expected an environment variable name"))]), ""),
    /** One request per event instead of one per batch. */
    per_event: v.optional(v.boolean(), false),
    /** Header name → value, `${env:NAME}` resolved with ctx.secret. */
    headers: v.optional(v.record(v.pipe(v.string(), v.regex(HEADER_NAME, "expected a header name")), v.string("expected a header value (a string)")), () => ({})),
    /** Deadline of each attempt. */
    timeout_ms: v.optional(int(100, 60_000), 5000),
    /** Attempts per request, the first included. */
    max_attempts: v.optional(int(1, 10), 3),
    /** Wait before the second attempt, doubled each time, unless Retry-After says otherwise. */
    backoff_ms: v.optional(int(0, 60_000), 500),
    /** Longest wait; a longer Retry-After ends the retries. */
    max_backoff_ms: v.optional(int(0, 300_000), 5000),
  }),
  v.check((config) => (config.url === "") !== (config.url_env === ""), "expected exactly one of url and url_env"),
);

export type WebhookConfig = v.InferOutput<typeof ConfigSchema>;
