/**
 * Valibot issues turned into the lines a person reads:
 * `stavily.yaml:12:12 api.timeout: expected a duration like "30s", got "thirty"`.
 */
import type * as v from "valibot";
import { ConfigSchema } from "./schema.ts";
import { keysAt } from "./_walk.ts";
import { didYouMean } from "./_suggest.ts";
import { locate, type Position, type YamlSource } from "./_yaml.ts";
import type { Override } from "./_overrides.ts";

export interface ConfigProblem {
  /** `file:line:col`, `env NAME`, `--set …`, or the file name alone. */
  location: string;
  /** Dotted key path, e.g. `api.timeout` or `sensor.triggers.0.plugin`; empty for the whole file. */
  path: string;
  message: string;
}

export function formatProblem(problem: ConfigProblem): string {
  return `${problem.location} ${problem.path ? `${problem.path}: ` : ""}${problem.message}`;
}

export interface IssueContext {
  file?: string;
  source?: YamlSource;
  overrides: readonly Override[];
}

export function problemFromIssue(issue: v.BaseIssue<unknown>, context: IssueContext): ConfigProblem {
  const keys = (issue.path ?? []).map((item) => item.key as string | number);
  const isKeyIssue = issue.path?.at(-1)?.origin === "key";
  const unknownKey = isKeyIssue && issue.expected === "never";
  const message = unknownKey
    ? `unknown key${didYouMean(String(keys.at(-1)), keysAt(ConfigSchema, keys.slice(0, -1)))}`
    : isKeyIssue
      ? `missing required key ${issue.expected}`
      : describe(issue);
  return { location: locationOf(keys, unknownKey ? "key" : "value", context), path: keys.join("."), message };
}

export function locationOf(keys: ReadonlyArray<string | number>, at: "key" | "value", context: IssueContext): string {
  const dotted = keys.join(".");
  const override = [...context.overrides].reverse().find((item) => {
    const path = item.path.join(".");
    return dotted === path || dotted.startsWith(`${path}.`);
  });
  if (override) return override.origin;
  const position = context.source ? locate(context.source, keys, at) : undefined;
  return at2(context.file ?? "(defaults)", position);
}

function at2(file: string, position: Position | undefined): string {
  return position ? `${file}:${position.line}:${position.col}` : file;
}

/** Valibot's own messages begin "Invalid …"; ours already say what was expected. */
function describe(issue: v.BaseIssue<unknown>): string {
  const got = `got ${issue.received}`;
  if (!issue.message.startsWith("Invalid ")) return `${issue.message}, ${got}`;
  return `expected ${humanExpected(issue.expected ?? "")}, ${got}`;
}

function humanExpected(expected: string): string {
  const options = /^\((.*)\)$/.exec(expected)?.[1];
  if (options) return `one of ${options.split(" | ").join(", ")}`;
  if (expected.includes(" | ")) return `one of ${expected.split(" | ").join(", ")}`;
  const comparison = /^(>=|<=|>|<)(.*)$/.exec(expected);
  if (comparison) return `a value ${comparison[1]} ${comparison[2]}`;
  const names: Record<string, string> = {
    Array: "a list",
    Object: "a mapping",
    number: "a number",
    string: "a string",
    boolean: "true or false",
    "!0": "a non-empty value",
  };
  return names[expected] ?? expected;
}
