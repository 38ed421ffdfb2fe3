/**
 * From a loaded manifest to the PluginLaunch a host starts: paths in the agent home, limits capped
 * by the sandbox, permissions checked against it. A permission the sandbox does not allow is an
 * error naming it; it is never quietly dropped, so a plugin never runs with less than it declared.
 *
 * Layout, per plugin id and instance:
 *   workDir   <home.workdir>/<id>/<instance>            scratch, cwd of stdio plugins
 *   logFile   <home.pluginLogs>/<id>.log                one log per plugin, instances share it
 *   stateDir  <home.data>/plugins-state/<id>/<instance> ctx.state; per instance, so two triggers of
 *                                                       one plugin (two log files tailed) keep apart
 *                                                       cursors; outside the plugin's code directory,
 *                                                       so reinstalling a plugin keeps its state
 */
import path from "node:path";
import { usageError } from "../../errors.ts";
import { AGENT_ID_PATTERN, type Config } from "../../config/index.ts";
import type { AgentHome } from "../../home/index.ts";
import type { AgentIdentity, PluginLaunch, PluginLimits, PluginPermissions } from "../types.ts";
import { formatProblem, type Problem } from "../../yaml/index.ts";
import { resolveEntry, type PluginManifest } from "./load.ts";
import { within } from "./_paths.ts";

export type SandboxConfig = Config["security"]["sandbox"];

export interface LaunchOptions {
  home: AgentHome;
  agent: AgentIdentity;
  /** Trigger id, or the plugin id; an id-shaped name (it becomes a directory). */
  instance: string;
  /** Configuration already checked by validatePluginConfig. */
  config: Record<string, unknown>;
  sandbox: SandboxConfig;
}

export function toLaunch(manifest: PluginManifest, options: LaunchOptions): PluginLaunch {
  const { home, instance, sandbox } = options;
  if (!AGENT_ID_PATTERN.test(instance)) {
    throw usageError("plugin", `plugin ${manifest.id}: instance name ${JSON.stringify(instance)} is not an id (a-z, 0-9, '.', '_' or '-')`);
  }
  let entry: string;
  try {
    entry = resolveEntry(manifest);
  } catch (error) {
    throw usageError("plugin", `plugin ${manifest.id}: ${(error as Error).message}`, { cause: error });
  }
  return {
    id: manifest.id,
    instance,
    kind: manifest.type,
    dir: manifest.dir,
    entry,
    runtime: manifest.runtime.type,
    config: options.config,
    agent: options.agent,
    workDir: path.join(home.workdir, manifest.id, instance),
    logFile: path.join(home.pluginLogs, `${manifest.id}.log`),
    stateDir: path.join(home.data, "plugins-state", manifest.id, instance),
    permissions: grantPermissions({ ...manifest, permissions: expandConfigGrants(manifest, options.config) }, sandbox),
    limits: capLimits(manifest.limits, sandbox),
  };
}

/**
 * The manifest's limits within the sandbox's. An undeclared memory or cpu limit becomes the
 * sandbox's; an undeclared execution time stays 0 so the host uses the call's own deadline
 * (trigger_timeout, task_timeout), which is usually shorter than max_exec_time.
 */
export function capLimits(limits: PluginManifest["limits"], sandbox: SandboxConfig): PluginLimits {
  if (!sandbox.enabled) return { ...limits };
  const cap = (declared: number, max: number) => (declared > 0 ? Math.min(declared, max) : max);
  return {
    memory: cap(limits.memory, sandbox.max_memory),
    cpu: cap(limits.cpu, sandbox.max_cpu),
    execution_time: limits.execution_time > 0 ? Math.min(limits.execution_time, sandbox.max_exec_time) : 0,
  };
}

/**
 * The declared permissions, or an error listing each one the sandbox refuses. Paths are compared
 * by name: the host's sandbox enforces them on the real files. With the sandbox disabled
 * (security.sandbox.enabled: false) every declared permission is granted.
 */
export function grantPermissions(manifest: Pick<PluginManifest, "id" | "file" | "permissions">, sandbox: SandboxConfig): PluginPermissions {
  const declared = manifest.permissions;
  const granted: PluginPermissions = {
    network: declared.network,
    filesystem: { read: declared.filesystem.read.map(normal), write: declared.filesystem.write.map(normal) },
    exec: [...declared.exec],
    system_calls: [...declared.system_calls],
    capabilities: [...declared.capabilities],
  };
  if (!sandbox.enabled) return granted;

  const refused: Problem[] = [];
  const refuse = (key: string, message: string) => refused.push({ location: manifest.file, path: `plugin.permissions.${key}`, message });
  if (declared.network && !sandbox.network_access) {
    refuse("network", "the plugin needs the network, but security.sandbox.network_access is false");
  }
  const forbidden = sandbox.forbidden_paths.map(normal);
  const allowed = sandbox.allowed_paths.map(normal);
  for (const mode of ["read", "write"] as const) {
    granted.filesystem[mode].forEach((granted, index) => {
      const key = `filesystem.${mode}.${index}`;
      const hit = forbidden.find((item) => within(granted, item) || within(item, granted));
      if (hit) {
        const how = within(granted, hit) ? "is under" : "contains";
        refuse(key, `${granted} ${how} ${hit}, which security.sandbox.forbidden_paths forbids`);
      } else if (allowed.length > 0 && !allowed.some((item) => within(granted, item))) {
        refuse(key, `${granted} is outside security.sandbox.allowed_paths (${allowed.join(", ")})`);
      }
    });
  }
  if (refused.length > 0) {
    const count = `${refused.length} permission${refused.length === 1 ? "" : "s"}`;
    throw usageError("plugin", `plugin ${manifest.id}: the sandbox refuses ${count}`, { details: refused.map(formatProblem) });
  }
  return granted;
}

/** Prefix of a permission entry the operator fills through the plugin's local config: `config:<field>`. */
export const CONFIG_GRANT = "config:";

/**
 * Replaces `config:<field>` entries of permissions.exec and permissions.filesystem with the
 * values of that field in the plugin's validated local config (`plugins.config.<id>`, which the
 * operator controls; never an instruction's parameters). A built-in shell-command can then run
 * exactly the commands an operator allows, and the sandbox mounts exactly the paths it grants.
 */
export function expandConfigGrants(manifest: Pick<PluginManifest, "id" | "permissions">, config: Record<string, unknown>): PluginManifest["permissions"] {
  const expand = (entries: readonly string[], key: string): string[] =>
    entries.flatMap((entry) => {
      if (!entry.startsWith(CONFIG_GRANT)) return [entry];
      const field = entry.slice(CONFIG_GRANT.length);
      if (!(field in config)) throw usageError("plugin", `plugin ${manifest.id}: permissions.${key} names config field "${field}", which its configuration does not have`);
      const value = config[field];
      const values = typeof value === "string" ? [value] : Array.isArray(value) ? value : undefined;
      if (!values || values.some((item) => typeof item !== "string")) {
        throw usageError("plugin", `plugin ${manifest.id}: permissions.${key}: config field "${field}" must be a string or a list of strings`);
      }
      return (values as string[]).filter((item) => item !== "");
    });
  const { permissions } = manifest;
  return {
    ...permissions,
    exec: expand(permissions.exec, "exec"),
    filesystem: { read: expand(permissions.filesystem.read, "filesystem.read"), write: expand(permissions.filesystem.write, "filesystem.write") },
  };
}

function normal(file: string): string {
  return path.resolve(file);
}
