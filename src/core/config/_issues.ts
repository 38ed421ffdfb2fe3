/**
 * Config issues located in the file, or in the environment variable or `--set` flag that last
 * set the key. The wording is shared with plugin manifests (src/core/yaml).
 */
import type * as v from "valibot";
import { ConfigSchema } from "./schema.ts";
import { describeIssue, fileLocation, isUnknownKey, issueKeys, locate, type Problem, type YamlSource } from "../yaml/index.ts";
import type { Override } from "./_overrides.ts";

export type ConfigProblem = Problem;
export { formatProblem } from "../yaml/index.ts";

export interface IssueContext {
  file?: string;
  source?: YamlSource;
  overrides: readonly Override[];
}

export function problemFromIssue(issue: v.BaseIssue<unknown>, context: IssueContext): ConfigProblem {
  const keys = issueKeys(issue);
  const at = isUnknownKey(issue) ? "key" : "value";
  return { location: locationOf(keys, at, context), path: keys.join("."), message: describeIssue(issue, ConfigSchema) };
}

export function locationOf(keys: ReadonlyArray<string | number>, at: "key" | "value", context: IssueContext): string {
  const dotted = keys.join(".");
  const override = [...context.overrides].reverse().find((item) => {
    const path = item.path.join(".");
    return dotted === path || dotted.startsWith(`${path}.`);
  });
  if (override) return override.origin;
  const position = context.source ? locate(context.source, keys, at) : undefined;
  return fileLocation(context.file ?? "(defaults)", position);
}
