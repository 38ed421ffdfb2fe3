/** The configuration (mirrors plugin.yaml, which documents each field for operators). */
import * as v from "valibot";

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));

export const ConfigSchema = v.object({
  url: v.pipe(
    v.string(),
    v.regex(/^https?:\/\//, "expected an http or https URL"),
    v.check((url) => URL.canParse(url), "expected a valid URL"),
  ),
  method: v.optional(v.picklist(["GET", "HEAD"]), "GET"),
  /** Empty: any 2xx or 3xx. */
  expected_status: v.optional(v.array(int(100, 599)), () => []),
  timeout_ms: v.optional(int(100, 120_000), 10_000),
  /** 0: off. */
  latency_threshold_ms: v.optional(int(0), 2000),
  /** 0: off. */
  tls_days_threshold: v.optional(int(0), 14),
  tls_check_interval_s: v.optional(int(0), 3600),
  tls_verify: v.optional(v.boolean(), true),
});

export type HttpCheckConfig = v.InferOutput<typeof ConfigSchema>;
