/**
 * The agents installed on a machine, found on disk: configs named `<type>-<id>.yaml` in the config
 * directory and service files (systemd drop-ins, launchd plists) in the unit directory.
 */
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { AGENT_ID_PATTERN, AGENT_TYPES, type AgentType, type Config } from "../config/index.ts";
import { errorMessage } from "../errors.ts";
import { agentHomePaths } from "../home/index.ts";
import { loadInstalledConfig } from "./_config.ts";
import { configFileOf, type InstanceRef, instanceUnitFile, type Layout, onDisk } from "./_layout.ts";

export interface Installed {
  ref: InstanceRef;
  /** Real paths (as written in units), whether or not they exist. */
  configFile: string;
  unitFile?: string;
  hasConfig: boolean;
  hasUnit: boolean;
  /** The effective config, when it loads. */
  config?: Config;
  configError?: string;
  /** `<base_dir>/agent-<id>` from the config, when it loads. */
  home?: string;
}

const CONFIG_NAME = /^(sensor|action)-(.+)\.yaml$/;
const UNIT_NAMES: Record<string, RegExp> = {
  linux: /^stavily-(sensor|action)@(.+)\.service\.d$/,
  darwin: /^io\.stavily\.(sensor|action)\.(.+)\.plist$/,
};

export function findInstalled(layout: Layout, root: string): Installed[] {
  const refs = new Map<string, InstanceRef>();
  const collect = (dir: string | undefined, pattern: RegExp | undefined) => {
    if (!dir || !pattern) return;
    const names = existsSync(onDisk(root, dir)) ? readdirSync(onDisk(root, dir)) : [];
    for (const name of names) {
      const match = pattern.exec(name);
      if (!match || !AGENT_ID_PATTERN.test(match[2]!) || !(AGENT_TYPES as readonly string[]).includes(match[1]!)) continue;
      const ref = { type: match[1] as AgentType, id: match[2]! };
      refs.set(`${ref.type}/${ref.id}`, ref);
    }
  };
  collect(layout.configDir, CONFIG_NAME);
  collect(layout.unitDir, UNIT_NAMES[layout.platform]);
  return [...refs.values()].sort((a, b) => a.type.localeCompare(b.type) || a.id.localeCompare(b.id)).map((ref) => inspectInstance(layout, root, ref));
}

export function inspectInstance(layout: Layout, root: string, ref: InstanceRef): Installed {
  const configFile = configFileOf(layout, ref);
  const unitFile = instanceUnitFile(layout, ref);
  const installed: Installed = {
    ref,
    configFile,
    unitFile,
    hasConfig: existsSync(onDisk(root, configFile)),
    hasUnit: unitFile !== undefined && existsSync(onDisk(root, unitFile)),
  };
  if (!installed.hasConfig) return installed;
  try {
    installed.config = loadInstalledConfig(onDisk(root, configFile), layout);
    installed.home = agentHomePaths(installed.config.agent.base_dir, installed.config.agent.id).root;
  } catch (error) {
    installed.configError = errorMessage(error);
  }
  return installed;
}

/**
 * What an agent must not share with another on the same machine: ports it listens on, and files and
 * directories it writes. Keys are comparable across agents; values say what it is, for the message.
 */
export function exclusiveResources(config: Config): Map<string, string> {
  const resources = new Map<string, string>();
  const home = agentHomePaths(config.agent.base_dir, config.agent.id);
  const add = (key: string, what: string) => resources.set(key, what);
  add(`path:${home.root}`, `home ${home.root}`);
  if (config.health.enabled && config.health.port > 0) add(`port:${config.health.port}`, `health port ${config.health.port}`);
  if (config.metrics.enabled && config.metrics.port > 0) add(`port:${config.metrics.port}`, `metrics port ${config.metrics.port}`);
  // Paths inside the home are its own; only those configured elsewhere can meet another agent's.
  const outside = (file: string) => !file.startsWith(`${home.root}${path.sep}`);
  const paths: Array<[string, string, boolean]> = [
    ["plugins.directory", config.plugins.directory, true],
    ["logging.file", config.logging.file, config.logging.output === "file"],
    ["the audit log directory", path.dirname(config.security.audit.log_file), config.security.audit.enabled],
    ["security.auth.token_file", config.security.auth.token_file, config.security.auth.token_file !== ""],
  ];
  for (const [what, file, used] of paths) if (used && outside(file)) add(`path:${file}`, `${what} ${file}`);
  return resources;
}

/** Health and metrics ports taken by installed agents, so a generated config picks another. */
export function usedPorts(installed: readonly Installed[]): Set<number> {
  const ports = new Set<number>();
  for (const item of installed) {
    if (!item.config) continue;
    for (const key of exclusiveResources(item.config).keys()) if (key.startsWith("port:")) ports.add(Number(key.slice(5)));
  }
  return ports;
}
