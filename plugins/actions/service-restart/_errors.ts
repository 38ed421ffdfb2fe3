/**
 * How this plugin fails: an Error with a tag (`code`) the action agent passes on in the result.
 * Parameters are checked with a valibot schema; the first problem names the parameter.
 */
import * as v from "valibot";

export type FailureCode = "invalid_parameters" | "not_allowed" | "no_manager" | "command_failed" | "not_verified" | "aborted";

export function failure(code: FailureCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}): Error & { code: FailureCode } {
  const error = Object.assign(new Error(`service-restart: ${message}`, { cause: options.cause }), { code });
  if (options.retryable) Object.assign(error, { retryable: true });
  return error;
}

/** The request's parameters through `schema`, or an invalid_parameters failure naming the first bad one. */
export function parseParameters<S extends v.GenericSchema>(schema: S, parameters: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, parameters);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const path = ["parameters", ...(issue.path ?? []).map((item) => String(item.key))].join(".");
  throw failure("invalid_parameters", `${path}: ${issue.message}`);
}
