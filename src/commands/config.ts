import { configJsonSchema, configToYaml, loadConfig, presentConfig, type AgentType, type LoadOptions } from "../core/config/index.ts";
import { relative } from "node:path";
import { usageError } from "../core/errors.ts";

export interface ConfigFlags {
  config?: string;
  type?: string;
  set?: string | string[];
  format?: string;
}

export function toLoadOptions(flags: ConfigFlags): LoadOptions {
  if (flags.type !== undefined && flags.type !== "sensor" && flags.type !== "action") {
    throw usageError("cli", `--type: expected sensor or action, got "${flags.type}"`);
  }
  const set = flags.set === undefined ? [] : Array.isArray(flags.set) ? flags.set : [flags.set];
  return { configFile: flags.config, type: flags.type as AgentType | undefined, set: set.map(String) };
}

export function validateCommand(flags: ConfigFlags): number {
  const loaded = loadConfig(toLoadOptions(flags));
  for (const warning of loaded.warnings) console.error(`warning: ${warning}`);
  const { agent } = loaded.config;
  const source = (loaded.file && shortPath(loaded.file)) ?? `no config file (looked for ${loaded.searched.join(", ")}); defaults and environment`;
  console.log(`ok: ${source} is valid for ${agent.type} agent "${agent.id}"`);
  return 0;
}

export function printCommand(flags: ConfigFlags): number {
  const format = flags.format ?? "yaml";
  if (format !== "yaml" && format !== "json") throw usageError("cli", `--format: expected yaml or json, got "${format}"`);
  const loaded = loadConfig(toLoadOptions(flags));
  for (const warning of loaded.warnings) console.error(`warning: ${warning}`);
  const text = format === "json" ? `${JSON.stringify(presentConfig(loaded.config), null, 2)}\n` : configToYaml(loaded.config);
  process.stdout.write(text);
  return 0;
}

export function schemaCommand(): number {
  console.log(JSON.stringify(configJsonSchema(), null, 2));
  return 0;
}

function shortPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith("..") ? file : rel;
}
