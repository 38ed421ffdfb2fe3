/**
 * How a plugin fails: an Error with a tag (`code`) the action agent passes on in the result's
 * error_details, and `retryable` when trying again may help. Parameters from an instruction are
 * checked with a valibot schema; the first problem names the parameter.
 */
import * as v from "valibot";

export type PluginFailure<C extends string> = Error & { code: C; retryable?: true };

export function pluginFailure<C extends string>(pluginId: string, code: C, message: string, options: { cause?: unknown; retryable?: boolean } = {}): PluginFailure<C> {
  const error = Object.assign(new Error(`${pluginId}: ${message}`, { cause: options.cause }), { code });
  if (options.retryable) Object.assign(error, { retryable: true as const });
  return error;
}

/** The request's parameters through `schema`, or an invalid_parameters failure naming the first bad one. */
export function parseParameters<S extends v.GenericSchema>(pluginId: string, schema: S, parameters: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, parameters);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const path = ["parameters", ...(issue.path ?? []).map((item) => String(item.key))].join(".");
  throw pluginFailure(pluginId, "invalid_parameters", `${path}: ${issue.message}`);
}
