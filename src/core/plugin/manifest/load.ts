/**
 * Reading plugin.yaml: one manifest (refused with every problem at once, as file:line:col), or a
 * whole plugins directory, where one bad plugin never stops the others from loading.
 */
import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import * as v from "valibot";
import { StavilyError, errorMessage, usageError } from "../../errors.ts";
import { BUILTIN_PREFIX } from "../types.ts";
import { fileLocation, formatProblem, locate, parseYamlSource, problemsFromIssues, type Problem, type YamlSource } from "../../yaml/index.ts";
import { checkField, FieldSpecSchema } from "./_field.ts";
import { ManifestSchema, type ManifestBody } from "./_schema.ts";
import { within } from "./_paths.ts";

export const MANIFEST_FILE = "plugin.yaml";

/** A loaded manifest and where it came from. */
export type PluginManifest = ManifestBody & {
  /** Absolute plugin directory. */
  dir: string;
  /** The manifest file, as named in problems. */
  file: string;
  /** Compiled into the binary (plugins/all.ts): its entry is `builtin:<id>`, not a file. */
  builtin?: boolean;
};


/** A built-in plugin's manifest, embedded as text in plugins/all.ts. */
export function parseBuiltinManifest(id: string, text: string): PluginManifest {
  const manifest = parseManifest(text, `${BUILTIN_PREFIX}${id}/${MANIFEST_FILE}`);
  return { ...manifest, dir: `${BUILTIN_PREFIX}${id}`, builtin: true };
}

/** Parses and validates manifest text; touches no file. `file` names it in problems and gives `dir`. */
export function parseManifest(text: string, file: string): PluginManifest {
  return parse(text, file).manifest;
}

/** Reads `<dir>/plugin.yaml` and checks that its entry point is a file inside `dir`. */
export function loadManifest(dir: string): PluginManifest {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    throw usageError("plugin", missing ? `${dir}: no ${MANIFEST_FILE}` : `cannot read ${file}: ${errorMessage(error)}`, { cause: error });
  }
  const { manifest, source } = parse(text, file);
  try {
    resolveEntry(manifest);
  } catch (error) {
    const position = locate(source, ["plugin", "runtime", "entry_point"]);
    const problem = { location: fileLocation(file, position), path: "plugin.runtime.entry_point", message: errorMessage(error) };
    throw manifestError(file, [problem], error);
  }
  return manifest;
}

/**
 * The real path of the entry point, refused when it is missing, not a file, or (through a symlink)
 * outside the plugin directory. Checked at load and again at launch: files change in between.
 */
export function resolveEntry(manifest: Pick<PluginManifest, "dir" | "runtime" | "builtin" | "id">): string {
  if (manifest.builtin) return `${BUILTIN_PREFIX}${manifest.id}`;
  const entry = manifest.runtime.entry_point;
  const candidate = path.resolve(manifest.dir, entry);
  if (candidate === manifest.dir || !within(candidate, manifest.dir)) {
    throw usageError("plugin", `entry point ${JSON.stringify(entry)} is outside the plugin directory`);
  }
  let real: string;
  try {
    real = realpathSync(candidate);
  } catch (error) {
    throw usageError("plugin", `entry point ${JSON.stringify(entry)} does not exist in ${manifest.dir}`, { cause: error });
  }
  const realDir = realpathSync(manifest.dir);
  if (real === realDir || !within(real, realDir)) {
    throw usageError("plugin", `entry point ${JSON.stringify(entry)} resolves to ${real}, outside the plugin directory`);
  }
  if (!statSync(real).isFile()) throw usageError("plugin", `entry point ${JSON.stringify(entry)} is not a file`);
  return real;
}

export interface PluginLoadFailure {
  /** The plugin directory that failed. */
  dir: string;
  /** Component "plugin"; `details` holds one problem a line. */
  error: StavilyError;
}

export interface DiscoveredPlugins {
  /** Good manifests, sorted by directory name. */
  plugins: PluginManifest[];
  failures: PluginLoadFailure[];
}

/**
 * Every immediate subdirectory of `dir` holding a plugin.yaml. Hidden directories are skipped (the
 * installer stages downloads there); a missing `dir` holds no plugins; a second plugin with an id
 * already seen is a failure, and the first one keeps running.
 */
export function discoverPlugins(dir: string): DiscoveredPlugins {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { plugins: [], failures: [] };
    throw new StavilyError("plugin", `cannot list plugins in ${dir}: ${errorMessage(error)}`, { cause: error });
  }
  const plugins: PluginManifest[] = [];
  const failures: PluginLoadFailure[] = [];
  const seen = new Map<string, string>();
  for (const name of names) {
    const pluginDir = path.join(dir, name);
    if (name.startsWith(".") || !isDirectory(pluginDir) || !isFile(path.join(pluginDir, MANIFEST_FILE))) continue;
    try {
      const manifest = loadManifest(pluginDir);
      const first = seen.get(manifest.id);
      if (first) throw usageError("plugin", `${manifest.file}: plugin id "${manifest.id}" is already used by ${first}`);
      seen.set(manifest.id, pluginDir);
      plugins.push(manifest);
    } catch (error) {
      const wrapped = error instanceof StavilyError ? error : new StavilyError("plugin", `${pluginDir}: ${errorMessage(error)}`, { cause: error });
      failures.push({ dir: pluginDir, error: wrapped });
    }
  }
  return { plugins, failures };
}

function parse(text: string, file: string): { manifest: PluginManifest; source: YamlSource } {
  const { source, problems: yamlProblems } = parseYamlSource(text);
  if (yamlProblems.length > 0) {
    throw manifestError(file, yamlProblems.map((problem) => ({ location: fileLocation(file, problem.position), path: "", message: problem.message })));
  }
  const raw: unknown = source.doc.toJS();
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    throw manifestError(file, [{ location: fileLocation(file, { line: 1, col: 1 }), path: "", message: "expected a mapping with the root key plugin:" }]);
  }
  if (!("plugin" in raw) && "id" in raw) {
    const message = "expected the manifest under a root key plugin: (id, name, version, type, runtime… are written at the top level)";
    throw manifestError(file, [{ location: fileLocation(file, locate(source, [])), path: "", message }]);
  }
  const result = v.safeParse(ManifestSchema, raw, { abortPipeEarly: true });
  const problems = result.success ? [] : problemsFromIssues(result.issues, { file, source, schema: ManifestSchema });
  // Field declarations that are well-formed get their deeper checks even when another part of the file is wrong.
  for (const [name, declared] of Object.entries(configurationOf(raw))) {
    const field = v.safeParse(FieldSpecSchema, declared);
    if (!field.success) continue;
    for (const issue of checkField(field.output, ["plugin", "configuration", name])) {
      problems.push({ location: fileLocation(file, locate(source, issue.path)), path: issue.path.join("."), message: issue.message });
    }
  }
  if (!result.success || problems.length > 0) throw manifestError(file, problems.sort(byPosition));
  return { manifest: { ...result.output.plugin, dir: path.resolve(path.dirname(file)), file }, source };
}

function manifestError(file: string, problems: readonly Problem[], cause?: unknown): StavilyError {
  const count = `${problems.length} problem${problems.length === 1 ? "" : "s"}`;
  return usageError("plugin", `${file}: ${count}`, { details: problems.map(formatProblem), cause });
}

/** In the order they are written; problems without a line (none so far) first. */
function byPosition(a: Problem, b: Problem): number {
  const at = (problem: Problem) => /:(\d+):(\d+)$/.exec(problem.location)?.slice(1).map(Number) ?? [0, 0];
  const [lineA = 0, colA = 0] = at(a);
  const [lineB = 0, colB = 0] = at(b);
  return lineA - lineB || colA - colB;
}

function configurationOf(raw: unknown): Record<string, unknown> {
  const configuration = (raw as { plugin?: { configuration?: unknown } } | null)?.plugin?.configuration;
  return configuration && typeof configuration === "object" && !Array.isArray(configuration) ? (configuration as Record<string, unknown>) : {};
}

function isDirectory(file: string): boolean {
  return statSync(file, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

function isFile(file: string): boolean {
  return statSync(file, { throwIfNoEntry: false })?.isFile() ?? false;
}
