/**
 * Plugin installation (issue "Plugin runtime", Plugin management): a plugin from a local directory, a .tar.gz/.tgz/
 * .zip (path or https URL, SHA-256 checked), or a git repository at a pinned ref is staged under
 * `<pluginsDir>/.staging/`, refused if it holds anything but regular files and directories, validated, bundled
 * when it imports npm packages, moved to `<pluginsDir>/<id>/versions/<version>/`, and made current by an atomic
 * rewrite of `<pluginsDir>/<id>/current`. The previous version stays for `rollback`.
 */
export { type InstallOptions, type InstallSource, installPlugin } from "./_install.ts";
export { type InstructionInstall, PluginSourceSchema, type PluginSourceInput, sourceFromInstruction } from "./_source.ts";
export {
  cleanStaging,
  describe as describeInstalled,
  type CurrentPointer,
  type InstalledPlugin,
  listInstalled,
  remove,
  rollback,
} from "./_store.ts";
export { BUNDLE_SUFFIX, bundleIfNeeded, HOST_MODULES, type PluginManifestInfo, type ValidatePlugin } from "./_bundle.ts";
export { validateManifest } from "./_manifest.ts";
export type { GitRef, GitRefKind } from "./_git.ts";
export { DEFAULT_LIMITS, type InstallLimits } from "./_options.ts";
export { extractArchive } from "./_extract.ts";
