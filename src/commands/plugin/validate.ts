/**
 * `stavily plugin validate <dir>`: the manifest with every problem as file:line:col (exit 2), then the
 * plugin started once on the runtime the agent would use, so an entry that does not load, exports no
 * plugin of the manifest's type, or does not speak the stdio protocol fails here and not on an agent.
 * A Worker (or child process) loads it: a plugin with side effects at import cannot touch the CLI.
 */
import path from "node:path";
import { EXIT, usageError } from "../../core/errors.ts";
import { PluginError } from "../../core/plugin/errors.ts";
import { loadManifest } from "../../core/plugin/manifest/index.ts";
import type { ConfigFlags } from "../config.ts";
import { existingDir, loadAgentConfig, parseJsonObject, splitConfigFlag } from "./_common.ts";
import { prepareLocal } from "./_local.ts";

/** Errors of a start that say the code itself is broken, whatever the configuration. */
const BROKEN = new Set(["invalid_plugin", "crashed", "spawn_failed", "invalid_output", "timeout", "killed"]);

export async function validateCommand(dir: string, flags: ConfigFlags): Promise<number> {
  const root = existingDir(dir);
  const manifest = loadManifest(root);
  const { file, json } = splitConfigFlag(flags);
  const pluginConfig = parseJsonObject(json, "--config");
  const { config } = loadAgentConfig({ ...flags, config: file }, manifest.type === "trigger" ? "sensor" : "action");
  const shown = path.relative(process.cwd(), manifest.file) || manifest.file;
  // Without --config a plugin may lack a required setting; that is the operator's to give, and loading is still checked.
  const local = await prepareLocal(manifest, { config, pluginConfig, agentHome: false, bundle: true, lenient: pluginConfig === undefined });
  const instance = local.factory(local.launch);
  let note = local.configProblems.length > 0 ? `its default configuration is incomplete (${local.configProblems.join("; ")}); pass --config '{…}' to check a real one` : undefined;
  try {
    await instance.start({ deadline: Date.now() + config.plugins.timeout });
  } catch (error) {
    if (!(error instanceof PluginError)) throw error;
    // Refusing the default configuration is the plugin doing its job; a plugin that cannot load is not.
    if (BROKEN.has(error.code) || pluginConfig !== undefined) {
      throw usageError("plugin", `${shown}: ${manifest.id} does not start (${error.code})`, { cause: error, details: [error.message, ...error.details] });
    }
    note ??= `it loads, but refused to start with its default configuration (${error.message}); pass --config '{…}' to check a real one`;
  } finally {
    await instance.stop({ deadline: Date.now() + config.plugins.timeout }).catch(() => instance.kill());
    await local.cleanup();
  }
  console.log(`ok: ${shown}: ${manifest.type} plugin ${manifest.id} ${manifest.version} (${manifest.runtime.type}) is valid${note ? "" : " and starts"}`);
  if (note) console.log(`note: ${note}`);
  return EXIT.ok;
}
