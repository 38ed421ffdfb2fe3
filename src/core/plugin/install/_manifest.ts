/** The manifest loader as installation's validator: a plugin is installed only if the agent could load it. */
import { loadManifest } from "../manifest/index.ts";
import type { PluginManifestInfo, ValidatePlugin } from "./_bundle.ts";

export const validateManifest: ValidatePlugin = async (dir: string): Promise<PluginManifestInfo> => {
  const manifest = loadManifest(dir);
  return { id: manifest.id, version: manifest.version, runtime: manifest.runtime.type, entry: manifest.runtime.entry_point };
};
