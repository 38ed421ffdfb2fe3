/**
 * A Bun plugin that depends on npm packages is bundled at install time into one ESM file beside its entry, and
 * its node_modules is then dropped: the compiled agent cannot import packages from a plugin's node_modules, and
 * an installed plugin should not change when its dependencies' files do.
 *
 * Dependencies are never installed here (no `npm ci`): that would need npm and a registry on every agent host and
 * run third-party code paths at install time. A plugin that has npm dependencies ships its node_modules (we
 * bundle them) or an already bundled entry (bundling it again is harmless).
 *
 * The bundler runs as `bun build --no-macros` in a child process (the compiled agent re-executes itself with
 * BUN_BE_BUN=1), not as `Bun.build()` in the agent: Bun.build runs a plugin's `with { type: "macro" }` imports
 * at bundle time, inside the agent and outside any sandbox, and it has no option to turn macros off. The child
 * also gets a deadline and a scrubbed environment, and its metafile is checked so that a bundle only contains
 * files from the plugin's own tree (an `import x from "/etc/shadow" with { type: "text" }` is refused).
 */
import fs from "node:fs/promises";
import path from "node:path";
import { StavilyError } from "../../errors.ts";
import { below, relativeSegments } from "./_entry-path.ts";
import { baseEnv, run } from "./_run.ts";

/** What installation needs from a plugin's manifest. */
export interface PluginManifestInfo {
  id: string;
  version: string;
  /** `bun` plugins with npm dependencies are bundled; others are installed as they are. Absent = `bun`. */
  runtime?: string;
  /** The entry point, relative to the plugin directory. */
  entry?: string;
}

/** Reads and checks the manifest of the plugin in `dir`; throws when the plugin is not valid. */
export type ValidatePlugin = (dir: string) => Promise<PluginManifestInfo>;

/**
 * Modules the plugin host serves at run time (the worker's virtual `stavily/sdk`, see worker/_sdk-module.ts):
 * kept as imports in the bundle, never looked for in node_modules.
 */
export const HOST_MODULES: readonly string[] = ["stavily/sdk", "@stavily/sdk"];

/** Suffix of the bundle written beside the entry: `index.ts` → `index.stavily-bundle.js`. */
export const BUNDLE_SUFFIX = ".stavily-bundle.js";

/**
 * Bundles the plugin at `root` when it needs it; returns the bundle's path relative to `root`, or undefined.
 * `scratch` is an empty directory outside `root` for the bundler's working files.
 */
export async function bundleIfNeeded(
  root: string,
  manifest: PluginManifestInfo,
  scratch: string,
  timeoutMs: number,
): Promise<string | undefined> {
  if ((manifest.runtime ?? "bun") !== "bun") return undefined;
  const pkg = await readPackageJson(root);
  if (pkg === undefined || !hasDependencies(pkg)) return undefined;
  const entryName = manifest.entry ?? stringField(pkg, "module") ?? stringField(pkg, "main") ?? "index.ts";
  const entry = resolveEntry(root, entryName, manifest.id);
  const out = path.join(path.dirname(entry), path.basename(entry).replace(/\.[cm]?[jt]sx?$/, "") + BUNDLE_SUFFIX);
  const metafile = path.join(scratch, "meta.json");
  await fs.mkdir(scratch, { recursive: true, mode: 0o700 });
  await run(
    [
      process.execPath,
      "build",
      "--no-macros",
      "--target=bun",
      "--format=esm",
      "--packages=bundle",
      "--sourcemap=none",
      ...HOST_MODULES.map((name) => `--external=${name}`),
      `--outfile=${out}`,
      `--metafile=${metafile}`,
      entry,
    ],
    {
      // An empty cwd and HOME: no bunfig.toml or .env of anyone's is read.
      cwd: scratch,
      env: { ...baseEnv(scratch), BUN_BE_BUN: "1", NO_COLOR: "1" },
      timeoutMs,
      what: `bundling plugin ${manifest.id} (${entryName})`,
    },
  );
  await checkInputs(root, scratch, metafile, manifest.id);
  await fs.rm(path.join(root, "node_modules"), { recursive: true, force: true });
  return path.relative(root, out).split(path.sep).join("/");
}

async function readPackageJson(root: string): Promise<Record<string, unknown> | undefined> {
  const file = Bun.file(path.join(root, "package.json"));
  if (!(await file.exists())) return undefined;
  try {
    const value: unknown = await file.json();
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not a JSON object");
    return value as Record<string, unknown>;
  } catch (error) {
    throw new StavilyError("plugin", `plugin package.json in ${root} is not valid: ${(error as Error).message}`, { cause: error });
  }
}

function hasDependencies(pkg: Record<string, unknown>): boolean {
  const deps = pkg.dependencies;
  return typeof deps === "object" && deps !== null && Object.keys(deps).length > 0;
}

function stringField(pkg: Record<string, unknown>, key: string): string | undefined {
  const value = pkg[key];
  return typeof value === "string" && value !== "" ? value : undefined;
}

function resolveEntry(root: string, entry: string, id: string): string {
  try {
    const segments = relativeSegments(entry);
    if (segments === null) throw new Error("refused: empty path");
    return below(root, segments);
  } catch (error) {
    throw new StavilyError("plugin", `plugin ${id}: entry ${JSON.stringify(entry)} ${(error as Error).message}`, { cause: error });
  }
}

/** Every file the bundler read must lie inside the plugin. */
async function checkInputs(root: string, scratch: string, metafile: string, id: string): Promise<void> {
  const realRoot = await fs.realpath(root);
  const meta = (await Bun.file(metafile).json()) as { inputs?: Record<string, unknown> };
  for (const input of Object.keys(meta.inputs ?? {})) {
    const absolute = path.resolve(scratch, input);
    const real = await fs.realpath(absolute).catch(() => absolute);
    if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
      throw new StavilyError("plugin", `plugin ${id}: the bundle would include ${JSON.stringify(input)}, which is outside the plugin; refused`);
    }
  }
}
