export { discoverPlugins, loadManifest, parseBuiltinManifest, parseManifest, resolveEntry, MANIFEST_FILE, type DiscoveredPlugins, type PluginLoadFailure, type PluginManifest } from "./load.ts";
export { assertPluginConfig, configJsonSchema, pluginConfigSchema, validatePluginConfig, type PluginConfigResult } from "./config.ts";
export { capLimits, CONFIG_GRANT, expandConfigGrants, grantPermissions, toLaunch, type LaunchOptions, type SandboxConfig } from "./launch.ts";
export { FIELD_TYPES, type FieldSpec, type FieldType } from "./_field.ts";
export { PLUGIN_KINDS, RUNTIMES, type ManifestBody } from "./_schema.ts";
export { formatProblem, type Problem } from "../../yaml/index.ts";
