/**
 * A plugin's configuration checked against its manifest before the plugin sees it, wherever it
 * comes from: `plugins.config.<id>`, a trigger's `config:`, or an instruction's parameters.
 */
import { toJsonSchema } from "@valibot/to-json-schema";
import * as v from "valibot";
import { usageError } from "../../errors.ts";
import { describeIssue, formatProblem, issueKeys, type Problem } from "../../yaml/index.ts";
import { fieldsSchema } from "./_field.ts";
import type { PluginManifest } from "./load.ts";

type ConfigSource = Pick<PluginManifest, "id" | "name" | "version" | "description" | "configuration">;

/** The valibot schema of the manifest's `configuration:`: defaults applied, unknown keys refused. */
export function pluginConfigSchema(manifest: Pick<PluginManifest, "configuration">): v.GenericSchema<unknown, Record<string, unknown>> {
  return fieldsSchema(manifest.configuration, "expected a mapping of configuration fields") as v.GenericSchema<unknown, Record<string, unknown>>;
}

export type PluginConfigResult = { ok: true; config: Record<string, unknown> } | { ok: false; problems: Problem[] };

/**
 * Validates `input` (undefined counts as `{}`). `where` prefixes every path, e.g.
 * `plugins.config.cpu-monitor` gives `plugins.config.cpu-monitor.threshold: expected a number ≤ 100, got 150`.
 */
export function validatePluginConfig(manifest: Pick<PluginManifest, "configuration">, input: unknown, where: string): PluginConfigResult {
  const schema = pluginConfigSchema(manifest);
  // Valibot takes a list for an object (its keys being 0, 1, …); say what is wrong instead.
  if (Array.isArray(input)) return { ok: false, problems: [{ location: "", path: where, message: "expected a mapping of configuration fields, got a list" }] };
  const result = v.safeParse(schema, input ?? {});
  if (result.success) return { ok: true, config: result.output };
  const problems = result.issues.map((issue) => ({
    location: "",
    path: [where, ...issueKeys(issue)].filter((key) => key !== "").join("."),
    message: describeIssue(issue, schema),
  }));
  return { ok: false, problems };
}

/** validatePluginConfig that throws a StavilyError (component "plugin", exit code 2) listing every problem. */
export function assertPluginConfig(manifest: Pick<PluginManifest, "id" | "configuration">, input: unknown, where: string): Record<string, unknown> {
  const result = validatePluginConfig(manifest, input, where);
  if (result.ok) return result.config;
  const count = `${result.problems.length} problem${result.problems.length === 1 ? "" : "s"}`;
  throw usageError("plugin", `configuration of plugin ${manifest.id}: ${count}`, { details: result.problems.map(formatProblem) });
}

/** JSON Schema (draft-07) of the plugin's configuration, for `plugin info` and editors. */
export function configJsonSchema(manifest: ConfigSource): Record<string, unknown> {
  const schema = toJsonSchema(pluginConfigSchema(manifest), { target: "draft-07", typeMode: "input", errorMode: "throw" });
  const { $schema, ...rest } = schema;
  return {
    $schema,
    title: `${manifest.name} ${manifest.version} configuration`,
    ...(manifest.description && { description: manifest.description }),
    ...rest,
  };
}
