/**
 * One plugin run on this machine for `plugin run` and `plugin validate`: a throwaway agent home
 * (unless the agent's own config was named), the configuration checked against the manifest, and the
 * runtime the agent would use (a Worker for bun, a child process over stdio for the others).
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import fs from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Config } from "../../core/config/index.ts";
import { prepareAgentHome, type AgentHome } from "../../core/home/index.ts";
import { createLogger, LOGGING_DEFAULTS, type Logger } from "../../core/log/index.ts";
import { bundleIfNeeded } from "../../core/plugin/install/index.ts";
import { DEFAULT_LIMITS } from "../../core/plugin/install/index.ts";
import { assertPluginConfig, formatProblem, toLaunch, validatePluginConfig, type PluginManifest } from "../../core/plugin/manifest/index.ts";
import { agentIdentity, runtimeFactory } from "../../core/plugin/host.ts";
import type { PluginHostFactory, PluginLaunch } from "../../core/plugin/types.ts";

export interface LocalPlugin {
  launch: PluginLaunch;
  home: AgentHome;
  /** Plugin log lines (bun) and host messages, as text on stderr. */
  logger: Logger;
  factory: PluginHostFactory;
  /** With `lenient`: why the configuration given (or the defaults) does not satisfy the manifest. */
  configProblems: string[];
  /** Removes the throwaway home and any staged bundle; closes the logger. */
  cleanup(): Promise<void>;
}

export interface LocalOptions {
  config: Config;
  /** The plugin configuration given on the command line; merged over `plugins.config.<id>`. */
  pluginConfig?: Record<string, unknown>;
  /** Use the agent's own home (the user named its config) instead of a temporary one. */
  agentHome: boolean;
  /** Bundle a bun plugin with npm dependencies first, as install would (the binary cannot load node_modules). */
  bundle?: boolean;
  /** A configuration the manifest refuses is reported in `configProblems` and passed as given, not thrown (validate). */
  lenient?: boolean;
}

export async function prepareLocal(manifest: PluginManifest, options: LocalOptions): Promise<LocalPlugin> {
  const { config } = options;
  // Checked before anything is created: a wrong command line leaves nothing behind.
  const where = options.pluginConfig ? "--config" : `plugins.config.${manifest.id}`;
  const given = { ...(config.plugins.config[manifest.id] ?? {}), ...options.pluginConfig };
  const checked = validatePluginConfig(manifest, given, where);
  if (!checked.ok && !options.lenient) assertPluginConfig(manifest, given, where);
  const pluginConfig = checked.ok ? checked.config : given;
  const configProblems = checked.ok ? [] : checked.problems.map(formatProblem);
  const temp = mkdtempSync(path.join(tmpdir(), "stavily-plugin-"));
  const logger = createLogger({ ...LOGGING_DEFAULTS, level: "debug", output: "stderr", format: "text" });
  const cleanup = async () => {
    await logger.close();
    rmSync(temp, { recursive: true, force: true });
  };
  try {
    const home = prepareAgentHome(options.agentHome ? config.agent.base_dir : temp, config.agent.id);
    const runnable = options.bundle ? await bundledCopy(manifest, temp) : manifest;
    const agent = agentIdentity(config);
    const launch = toLaunch(runnable, { home, agent, instance: manifest.id, config: pluginConfig, sandbox: config.security.sandbox });
    // toLaunch names the work dir and the host does not create it; a stdio child cannot start in a missing cwd.
    mkdirSync(launch.workDir, { recursive: true, mode: 0o750 });
    const factory: PluginHostFactory = await runtimeFactory(config.security.sandbox, { logger, pluginLines: logger });
    return { launch, home, logger, factory, configProblems, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/**
 * A bun plugin whose package.json has dependencies runs from a bundle made as install makes it, in a
 * copy under `temp`: the author's folder (and its node_modules) is left as it is.
 */
async function bundledCopy(manifest: PluginManifest, temp: string): Promise<PluginManifest> {
  if (manifest.builtin || manifest.runtime.type !== "bun") return manifest;
  const bundle = await bundleInCopy(manifest, path.join(temp, "bundle"));
  if (!bundle) return manifest;
  return { ...manifest, dir: bundle.root, file: path.join(bundle.root, path.basename(manifest.file)), runtime: { ...manifest.runtime, entry_point: bundle.entry } };
}

/**
 * Copies the plugin to `work/tree` and bundles it there with the installer's bundler. Returns the
 * copy's root and the bundle's path relative to it, or undefined when the plugin needs no bundle.
 */
export async function bundleInCopy(manifest: PluginManifest, work: string): Promise<{ root: string; entry: string } | undefined> {
  const root = path.join(work, "tree");
  await fs.cp(manifest.dir, root, { recursive: true, verbatimSymlinks: true });
  const info = { id: manifest.id, version: manifest.version, runtime: manifest.runtime.type, entry: manifest.runtime.entry_point };
  const entry = await bundleIfNeeded(root, info, path.join(work, "bundler"), DEFAULT_LIMITS.bundleTimeoutMs);
  return entry === undefined ? undefined : { root, entry };
}
