/**
 * What the `plugin …` subcommands share: their flags, the agent config with `--type` defaulting to
 * action, the plugins directory, and finding a plugin by directory or id.
 */
import { statSync } from "node:fs";
import path from "node:path";
import { loadConfig, type AgentType, type LoadedConfig } from "../../core/config/index.ts";
import { StavilyError, usageError } from "../../core/errors.ts";
import { loadCatalog, type CatalogEntry } from "../../core/plugin/catalog.ts";
import { loadManifest, MANIFEST_FILE, type PluginManifest } from "../../core/plugin/manifest/index.ts";
import { toLoadOptions, type ConfigFlags } from "../config.ts";

export interface PluginFlags extends ConfigFlags {
  json?: boolean;
}

/**
 * The agent config of the `plugin` commands. A plugin command must work on a machine with no config
 * file at all, so when neither `--type` nor the file names the agent type, it is `fallback`.
 */
export function loadAgentConfig(flags: ConfigFlags, fallback: AgentType = "action"): LoadedConfig {
  const options = toLoadOptions({ ...flags, config: configFileOf(flags) });
  if (options.type) return loadConfig(options);
  try {
    return loadConfig(options);
  } catch (error) {
    if (!isMissingType(error)) throw error;
    return loadConfig({ ...options, type: fallback });
  }
}

/** The only problem was the missing agent.type (resolveDerived reports it alone). */
function isMissingType(error: unknown): boolean {
  return error instanceof StavilyError && error.details.length === 1 && /agent\.type: missing/.test(error.details[0]!);
}

/**
 * `-c/--config` is the agent's config file everywhere; on `run` and `validate` a value that is a JSON
 * object is the plugin's configuration instead (`--config '{"threshold":80}'`). Both may be given.
 */
export function splitConfigFlag(flags: ConfigFlags, argv: readonly string[] = process.argv): { file?: string; json?: string } {
  // The argument parser keeps only one value when the two spellings are mixed; refuse rather than drop one.
  const short = argv.some((arg) => arg === "-c" || /^-c./.test(arg));
  const long = argv.some((arg) => arg === "--config" || arg.startsWith("--config="));
  if (short && long) throw usageError("cli", "give the config file and the plugin's JSON with the same flag: --config <file> --config '{…}' (-c and --config cannot be mixed)");
  const values = flags.config === undefined ? [] : (Array.isArray(flags.config) ? flags.config : [flags.config]).map(String);
  const json = values.filter((value) => value.trimStart().startsWith("{"));
  const files = values.filter((value) => !value.trimStart().startsWith("{"));
  if (json.length > 1) throw usageError("cli", "--config: give the plugin's configuration (a JSON object) once");
  if (files.length > 1) throw usageError("cli", "--config: give one config file");
  return { file: files[0], json: json[0] };
}

function configFileOf(flags: ConfigFlags): string | undefined {
  return splitConfigFlag(flags).file;
}

/** A JSON object from a flag; `what` names the flag in the error. */
export function parseJsonObject(text: string | undefined, what: string): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(String(text));
  } catch (error) {
    throw usageError("cli", `${what}: not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw usageError("cli", `${what}: expected a JSON object, e.g. '{"key":"value"}'`);
  return value as Record<string, unknown>;
}

/** The directory argument as an absolute path that exists, or a usage error. */
export function existingDir(dir: string | undefined, what = "plugin directory"): string {
  if (!dir) throw usageError("cli", `missing the ${what}`);
  const absolute = path.resolve(String(dir));
  if (!statSync(absolute, { throwIfNoEntry: false })?.isDirectory()) throw usageError("cli", `${what} ${dir} does not exist or is not a directory`);
  return absolute;
}

export function isDir(candidate: string): boolean {
  return statSync(candidate, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

/**
 * A path rather than an id: it has a separator or is `.`/`..`. A bare word is always an id, even when a
 * folder of that name is in the working directory (`./name` runs the folder), so the meaning of a
 * command never depends on where it is typed.
 */
export function looksLikePath(arg: string): boolean {
  return arg.includes("/") || arg.includes(path.sep) || arg === "." || arg === "..";
}

export interface FoundPlugin {
  manifest: PluginManifest;
  source: CatalogEntry["source"] | "path";
  installed?: CatalogEntry["installed"];
}

/**
 * `arg` as a plugin folder (a path) or as an id in the agent's catalog (built in, installed, or a
 * folder in plugins.directory). Load failures in the catalog do not hide the others.
 */
export async function findPlugin(arg: string, directory: string): Promise<FoundPlugin> {
  if (looksLikePath(arg)) {
    const dir = path.resolve(arg);
    if (!isDir(dir)) throw usageError("cli", `${arg} is not a directory`);
    return { manifest: loadManifest(dir), source: "path" };
  }
  const catalog = await loadCatalog({ directory, allowed: [] });
  const entry = catalog.entries.get(arg);
  if (entry) return { manifest: entry.manifest, source: entry.source, installed: entry.installed };
  const failed = catalog.failures.find((failure) => path.basename(failure.dir) === arg);
  if (failed) throw failed.error;
  throw usageError("plugin", `no plugin "${arg}": not built in and not in ${directory}`, {
    details: [`built in and installed: ${[...catalog.entries.keys()].sort().join(", ") || "none"}`, isDir(arg) ? `to use the folder ${arg}, give its path: ./${arg}` : `to use a plugin folder, give its path, e.g. ./${arg}`],
  });
}

/** `dir/plugin.yaml` for messages. */
export function manifestPath(dir: string): string {
  return path.join(dir, MANIFEST_FILE);
}
