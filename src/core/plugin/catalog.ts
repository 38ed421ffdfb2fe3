/**
 * Which plugins this agent can run: the built-ins compiled into the binary, the plugins installed
 * in `plugins.directory` (`<id>/versions/<v>/`, following `current`), and plain plugin folders
 * dropped there (`<name>/plugin.yaml`, for development). An installed plugin with the id of a
 * built-in replaces it (an operator may pin a newer version); one that fails to load is reported,
 * never fatal.
 */
import path from "node:path";
import { BUILTIN_PLUGINS } from "../../../plugins/all.ts";
import { errorMessage, StavilyError } from "../errors.ts";
import { listInstalled, type InstalledPlugin } from "./install/index.ts";
import { discoverPlugins, loadManifest, parseBuiltinManifest, type PluginLoadFailure, type PluginManifest } from "./manifest/index.ts";

export interface CatalogEntry {
  manifest: PluginManifest;
  source: "builtin" | "installed" | "directory";
  /** For installed plugins: what the installer recorded. */
  installed?: InstalledPlugin;
}

export interface Catalog {
  entries: Map<string, CatalogEntry>;
  /** Plugins that could not be loaded, with their errors. */
  failures: PluginLoadFailure[];
}

export async function loadCatalog(options: { directory: string; allowed: readonly string[] }): Promise<Catalog> {
  const entries = new Map<string, CatalogEntry>();
  for (const [id, builtin] of Object.entries(BUILTIN_PLUGINS)) {
    entries.set(id, { manifest: parseBuiltinManifest(id, builtin.manifest), source: "builtin" });
  }
  const folders = discoverPlugins(options.directory);
  for (const manifest of folders.plugins) entries.set(manifest.id, { manifest, source: "directory" });
  const failures = [...folders.failures];
  for (const installed of await listInstalled(options.directory).catch((error) => {
    failures.push({ dir: options.directory, error: asStavilyError(error, options.directory) });
    return [];
  })) {
    try {
      entries.set(installed.id, { manifest: installedManifest(installed), source: "installed", installed });
    } catch (error) {
      failures.push({ dir: installed.dir, error: asStavilyError(error, installed.dir) });
    }
  }
  if (options.allowed.length > 0) {
    for (const id of entries.keys()) if (!options.allowed.includes(id)) entries.delete(id);
  }
  return { entries, failures };
}

/** The manifest of the current version; a bundled plugin runs its bundle (its node_modules are gone). */
function installedManifest(installed: InstalledPlugin): PluginManifest {
  const manifest = loadManifest(installed.dir);
  if (manifest.id !== installed.id) {
    throw new StavilyError("plugin", `${installed.dir}: manifest id "${manifest.id}" does not match its install directory "${installed.id}"`);
  }
  if (!installed.bundle) return manifest;
  return { ...manifest, runtime: { ...manifest.runtime, entry_point: path.relative(installed.dir, installed.bundle) } };
}

function asStavilyError(error: unknown, where: string): StavilyError {
  return error instanceof StavilyError ? error : new StavilyError("plugin", `${where}: ${errorMessage(error)}`, { cause: error });
}
