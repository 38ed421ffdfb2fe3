/**
 * The instruction's parameters (request.parameters): what to run, never how far it may reach.
 * Names follow the Stavily shell-command plugin of the Go agents (command, working_dir, env_vars,
 * input, timeout); `command` may also be a list of arguments.
 */
import { isAbsolute } from "node:path";
import * as v from "valibot";
import { ENV_NAME } from "./_config.ts";

const noNul = (what: string) => v.check((text: string) => !text.includes("\0"), `${what} contains a NUL byte`);

export const ParamsSchema = v.object({
  /** A list of arguments (run as is), or a string split like sh would (run by a shell only in shell mode). */
  command: v.union(
    [
      v.pipe(v.string(), v.minLength(1, "expected a non-empty command"), v.maxLength(65_536, "expected at most 65536 characters"), noNul("the command")),
      v.pipe(v.array(v.pipe(v.string(), noNul("an argument"))), v.minLength(1, "expected at least the executable"), v.maxLength(4096, "expected at most 4096 arguments")),
    ],
    "expected a string or a list of strings",
  ),
  /** Absolute directory to run in; must be inside the configured allowed_paths. */
  working_dir: v.optional(v.pipe(v.string(), v.check(isAbsolute, "expected an absolute path"), noNul("the path"))),
  /** Added to the environment; names are checked against allowed_env_vars and the protected names. */
  env_vars: v.optional(v.record(v.pipe(v.string(), v.regex(ENV_NAME, "expected an environment variable name")), v.pipe(v.string(), noNul("the value")))),
  /** Written to the command's stdin, then stdin is closed. */
  input: v.optional(v.string()),
  /** Seconds; at most the configured max_timeout. */
  timeout: v.optional(v.pipe(v.number(), v.integer("expected a whole number of seconds"), v.minValue(1, "expected at least 1 second"))),
});

export type ShellParams = v.InferOutput<typeof ParamsSchema>;

/** Local configuration keys an instruction might try to send; each gets its own refusal. */
const LOCAL_ONLY = new Set([
  "shell", "shell_path", "allowed_commands", "blocked_commands", "allowed_paths", "allowed_env_vars", "env",
  "max_timeout", "max_output_size", "max_input_size", "success_exit_codes",
]);

/** A parameter problem: the result names the field. */
export class ParamError extends Error {
  override name = "ParamError";
  readonly code = "invalid_parameters";
  constructor(readonly field: string, problem: string) {
    super(`invalid parameter ${field}: ${problem}`);
  }
}

export function parseParams(parameters: Record<string, unknown>): ShellParams {
  const known = Object.keys(ParamsSchema.entries);
  for (const key of Object.keys(parameters)) {
    if (LOCAL_ONLY.has(key)) throw new ParamError(key, "set only by the agent's local configuration (plugins.config.shell-command), never by an instruction");
    if (!known.includes(key)) throw new ParamError(key, `unknown parameter (expected ${known.join(", ")})`);
  }
  const result = v.safeParse(ParamsSchema, parameters);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const field = issue.path?.map((item) => String(item.key)).join(".") || "parameters";
  throw new ParamError(field, issue.message);
}
