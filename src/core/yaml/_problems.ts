/**
 * Valibot issues turned into the lines a person reads, the same for the agent config and plugin
 * manifests: `stavily.yaml:12:12 api.timeout: expected a duration like "30s", got "thirty"`.
 */
import type * as v from "valibot";
import { locate, type Position, type YamlSource } from "./_document.ts";
import { keysAt } from "./_schema.ts";
import { didYouMean } from "./_suggest.ts";

export interface Problem {
  /** `file:line:col`, `env NAME`, `--set …`, the file name alone, or "" when the value came from no file. */
  location: string;
  /** Dotted key path, e.g. `api.timeout` or `sensor.triggers.0.plugin`; empty for the whole file. */
  path: string;
  message: string;
}

export function formatProblem(problem: Problem): string {
  const where = problem.path ? `${problem.path}: ` : "";
  return problem.location ? `${problem.location} ${where}${problem.message}` : `${where}${problem.message}`;
}

/** The key path of an issue, e.g. `["api", "timeout"]`. */
export function issueKeys(issue: v.BaseIssue<unknown>): Array<string | number> {
  return (issue.path ?? []).map((item) => item.key as string | number);
}

/** An unknown key is reported where the key is written; everything else where its value is. */
export function isUnknownKey(issue: v.BaseIssue<unknown>): boolean {
  return issue.path?.at(-1)?.origin === "key" && issue.expected === "never";
}

/** The message of one issue; `schema` is the root the issue's path starts from, for did-you-mean. */
export function describeIssue(issue: v.BaseIssue<unknown>, schema: unknown): string {
  const keys = issueKeys(issue);
  if (isUnknownKey(issue)) return `unknown key${didYouMean(String(keys.at(-1)), keysAt(schema, keys.slice(0, -1)))}`;
  if (issue.path?.at(-1)?.origin === "key") return `missing required key ${issue.expected}`;
  const got = `got ${issue.received}`;
  // Valibot's own messages begin "Invalid …"; ours already say what was expected.
  if (!issue.message.startsWith("Invalid ")) return `${issue.message}, ${got}`;
  return `expected ${humanExpected(issue.expected ?? "")}, ${got}`;
}

export function fileLocation(file: string, position: Position | undefined): string {
  return position ? `${file}:${position.line}:${position.col}` : file;
}

export interface SourceContext {
  /** Name printed in front of line:col. */
  file: string;
  source?: YamlSource;
  /** Schema the issue paths start from. */
  schema: unknown;
}

/** Every issue as a problem located in the YAML source; valibot's order (document order) is kept. */
export function problemsFromIssues(issues: readonly v.BaseIssue<unknown>[], context: SourceContext): Problem[] {
  return issues.map((issue) => {
    const keys = issueKeys(issue);
    const position = context.source ? locate(context.source, keys, isUnknownKey(issue) ? "key" : "value") : undefined;
    return { location: fileLocation(context.file, position), path: keys.join("."), message: describeIssue(issue, context.schema) };
  });
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
