/**
 * The agent-local configuration (where messages may go and how hard to try; mirrors plugin.yaml)
 * and the instruction's parameters (which webhook by name, and the message).
 */
import * as v from "valibot";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const WEBHOOK_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));

const Webhook = v.pipe(
  v.strictObject(
    {
      /** The URL itself (a Slack webhook URL is a credential: prefer url_env). */
      url: v.optional(v.pipe(v.string(), v.url("expected a URL"), v.regex(/^https?:\/\//i, "expected an http(s) URL"))),
      /** An environment variable of the agent holding the URL. */
      url_env: v.optional(v.pipe(v.string(), v.regex(ENV_NAME, "expected an environment variable name"))),
    },
    "expected a mapping with url or url_env",
  ),
  v.check((hook) => (hook.url === undefined) !== (hook.url_env === undefined), "expected exactly one of url and url_env"),
);

export const ConfigSchema = v.object({
  /** The webhooks an instruction may name: `{ops: {url_env: SLACK_OPS_URL}}`. */
  webhooks: v.pipe(
    v.record(v.pipe(v.string(), v.regex(WEBHOOK_NAME, "expected a webhook name: a-z, 0-9, '_' or '-'")), Webhook),
    v.check((hooks) => Object.keys(hooks).length > 0, "configure at least one webhook"),
  ),
  /** The webhook used when a request names none; empty = a request must name one. */
  default_webhook: v.optional(v.string(), ""),
  /** Attempts in all, the first included. */
  max_attempts: v.optional(int(1, 10), 3),
  /** Wait before the second attempt; doubles each time (unless Retry-After says otherwise). */
  backoff_ms: v.optional(int(0, 60_000), 1000),
  /** Longest wait between attempts; a longer Retry-After ends the retries. */
  max_backoff_ms: v.optional(int(0, 300_000), 30_000),
  /** Deadline of each attempt. */
  timeout_ms: v.optional(int(100, 60_000), 10_000),
});

export type NotifyConfig = v.InferOutput<typeof ConfigSchema>;

export const ParametersSchema = v.pipe(
  v.strictObject(
    {
      /** A name from the config's webhooks; never a URL. */
      webhook: v.optional(v.pipe(v.string("expected a webhook name"), v.regex(WEBHOOK_NAME, "expected a webhook name: a-z, 0-9, '_' or '-'"))),
      /** Slack's limit is 40,000 characters. */
      text: v.optional(v.pipe(v.string("expected a string"), v.minLength(1, "expected a non-empty text"), v.maxLength(40_000, "expected at most 40000 characters"))),
      /** Slack Block Kit blocks; at most 50. */
      blocks: v.optional(v.pipe(v.array(v.record(v.string(), v.unknown(), "expected a block (a mapping)"), "expected a list of blocks"), v.maxLength(50, "expected at most 50 blocks"))),
    },
    (issue) => (issue.expected === "never" ? "unknown parameter (the URL comes from the agent's config, by webhook name)" : "expected a mapping of parameters"),
  ),
  v.check((params) => params.text !== undefined || (params.blocks?.length ?? 0) > 0, "expected text or blocks"),
);
