/**
 * The agent-local configuration (the bounds; mirrors plugin.yaml, which documents each field) and
 * the instruction's parameters (what to do, always within those bounds).
 */
import * as v from "valibot";
import { HOST_ENTRY_PATTERN } from "./_hosts.ts";

export const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MiB = 1024 * 1024;

const int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));

export const ConfigSchema = v.object({
  /** Hosts requests may go to, redirects included: `api.example.com`, `*.example.com`, `10.0.0.5:8443`. */
  allowed_hosts: v.pipe(v.array(v.pipe(v.string(), v.regex(HOST_ENTRY_PATTERN, "expected a host, host:port or *.suffix"))), v.minLength(1, "list at least one host")),
  /** URL schemes allowed; plain http only when listed. */
  allowed_schemes: v.optional(v.array(v.picklist(["http", "https"])), () => ["https" as const]),
  /** Methods an instruction may use. */
  allowed_methods: v.optional(v.array(v.picklist(METHODS)), () => ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] as (typeof METHODS)[number][]),
  /** Environment variables `${env:NAME}` may name. */
  secret_env: v.optional(v.array(v.pipe(v.string(), v.regex(ENV_NAME, "expected an environment variable name"))), () => []),
  /** Whole-request deadline (redirects included), and the most a request's timeout_ms may ask. */
  timeout_ms: v.optional(int(100, 120_000), 10_000),
  /** Redirects followed (each checked against allowed_hosts); 0 returns the 3xx itself. */
  max_redirects: v.optional(int(0, 20), 5),
  /** Largest request body. */
  max_request_bytes: v.optional(int(0, 16 * MiB), MiB),
  /** Response bytes kept; the rest is dropped and body_truncated set. Also the most a request may ask. */
  max_response_bytes: v.optional(int(0, 16 * MiB), MiB),
  /** Response headers redacted besides the built-in credential names. */
  redact_headers: v.optional(v.array(v.string()), () => []),
});

export type HttpRequestConfig = v.InferOutput<typeof ConfigSchema>;

/** RFC 9110 token. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers the plugin owns: Host would defeat the allow-list, the framing ones are fetch's. */
export const FORBIDDEN_HEADERS = new Set(["host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer", "expect"]);
const status = v.pipe(v.number("expected a status code"), v.integer("expected a status code"), v.minValue(100, "expected a status code 100-599"), v.maxValue(599, "expected a status code 100-599"));

export const ParametersSchema = v.strictObject(
  {
    method: v.optional(v.pipe(v.string("expected a method"), v.toUpperCase(), v.picklist(METHODS, `expected one of ${METHODS.join(", ")}`)), "GET"),
    url: v.pipe(v.string("expected a URL"), v.minLength(1, "expected a URL"), v.maxLength(8192, "expected a URL of at most 8192 characters")),
    headers: v.optional(
      v.record(
        v.pipe(v.string(), v.regex(HEADER_NAME, "expected a header name"), v.check((name) => !FORBIDDEN_HEADERS.has(name.toLowerCase()), "this header is set by the agent, not the instruction")),
        v.pipe(v.string("expected a header value (a string)"), v.regex(/^[^\r\n\0]*$/, "expected a header value without line breaks"), v.maxLength(8192)),
        "expected a mapping of header name to value",
      ),
      () => ({}),
    ),
    /** A string is sent as is; anything else as JSON. */
    body: v.optional(v.union([v.string(), v.record(v.string(), v.unknown()), v.array(v.unknown())], "expected a string, a mapping or a list")),
    /** Default: any 2xx. */
    expected_status: v.optional(v.union([status, v.pipe(v.array(status), v.minLength(1))], "expected a status code or a list of them")),
    timeout_ms: v.optional(v.pipe(v.number(), v.integer("expected whole milliseconds"), v.minValue(1, "expected at least 1 ms"))),
    follow_redirects: v.optional(v.boolean("expected true or false"), true),
    max_response_bytes: v.optional(v.pipe(v.number(), v.integer("expected a number of bytes"), v.minValue(0, "expected a number of bytes"))),
  },
  (issue) => (issue.expected === "never" ? `unknown parameter` : "expected a mapping of parameters with at least url"),
);

export type HttpRequestParameters = v.InferOutput<typeof ParametersSchema>;
