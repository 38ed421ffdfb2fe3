/** How http-request fails: the SDK's tagged failures, with this plugin's codes. */
import type * as v from "valibot";
import { parseParameters as parse, pluginFailure } from "../../../src/sdk/index.ts";

export type FailureCode = "invalid_parameters" | "not_allowed" | "unexpected_status" | "timeout" | "aborted" | "request_failed";

export function failure(code: FailureCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
  return pluginFailure("http-request", code, message, options);
}

export function parseParameters<S extends v.GenericSchema>(schema: S, parameters: unknown): v.InferOutput<S> {
  return parse("http-request", schema, parameters);
}
