/**
 * The instruction's parameters: one operation and its paths. Paths are absolute; modes are octal
 * strings ("0644"), never numbers, so 644 and 0o644 cannot be confused.
 */
import { isAbsolute } from "node:path";
import * as v from "valibot";
import { invalid, refused } from "./_errors.ts";

const path = v.pipe(
  v.string("expected a path"),
  v.check(isAbsolute, "expected an absolute path"),
  v.check((text: string) => !text.includes("\0"), "the path contains a NUL byte"),
);
const mode = v.pipe(v.string('expected an octal mode string like "0644"'), v.regex(/^0?[0-7]{3,4}$/, 'expected an octal mode like "0644"'));
const flag = v.optional(v.boolean("expected true or false"), false);

export const OPERATIONS = {
  copy: v.object({ source: path, destination: path, overwrite: flag, recursive: flag, parents: flag }),
  move: v.object({ source: path, destination: path, overwrite: flag, parents: flag }),
  delete: v.object({ path, recursive: flag, missing_ok: flag }),
  mkdir: v.object({ path, parents: flag, mode: v.optional(mode) }),
  write: v.object({
    path,
    content: v.string("expected a string"),
    encoding: v.optional(v.picklist(["utf8", "base64"], 'expected "utf8" or "base64"'), "utf8"),
    overwrite: v.optional(v.boolean("expected true or false"), true),
    parents: flag,
    mode: v.optional(mode),
  }),
  chmod: v.object({ path, mode }),
};

export type Operation = keyof typeof OPERATIONS;
export type Params<O extends Operation> = v.InferOutput<(typeof OPERATIONS)[O]> & { operation: O };
export type AnyParams = { [O in Operation]: Params<O> }[Operation];

/** Local configuration keys an instruction might try to send. */
const LOCAL_ONLY = new Set(["allowed_paths", "max_write_size", "allow_recursive_delete"]);

export function parseParams(parameters: Record<string, unknown>): AnyParams {
  const operation = parameters.operation;
  if (typeof operation !== "string" || !(operation in OPERATIONS)) {
    throw invalid("operation", `expected one of ${Object.keys(OPERATIONS).join(", ")}${operation === undefined ? "" : `, got ${JSON.stringify(operation)}`}`);
  }
  const schema: v.GenericSchema<unknown, Record<string, unknown>> = OPERATIONS[operation as Operation];
  const entries = OPERATIONS[operation as Operation].entries;
  for (const key of Object.keys(parameters)) {
    if (LOCAL_ONLY.has(key)) throw invalid(key, "set only by the agent's local configuration (plugins.config.file-operations), never by an instruction");
    if (key !== "operation" && !(key in entries)) throw invalid(key, `unknown parameter for ${operation} (expected ${Object.keys(entries).join(", ")})`);
  }
  const { operation: _, ...rest } = parameters;
  const result = v.safeParse(schema, rest);
  if (!result.success) {
    const issue = result.issues[0];
    throw invalid(issue.path?.map((item) => String(item.key)).join(".") || "parameters", issue.message);
  }
  return { ...result.output, operation } as AnyParams;
}

/** An octal mode string as bits; setuid and setgid are refused (a copy of a root-owned binary must not gain them). */
export function parseMode(text: string, field = "mode"): number {
  const bits = Number.parseInt(text, 8);
  if (bits & 0o6000) throw refused(`${field} ${text}: setuid and setgid bits are refused`);
  return bits;
}

export const formatMode = (bits: number) => `0${(bits & 0o7777).toString(8).padStart(3, "0")}`;
