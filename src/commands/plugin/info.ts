/** `stavily plugin info <id|dir>`: the manifest, permissions, limits and the configuration's JSON Schema. */
import { formatDuration, formatSize } from "../../core/config/index.ts";
import { EXIT, usageError } from "../../core/errors.ts";
import { configJsonSchema } from "../../core/plugin/manifest/index.ts";
import { findPlugin, loadAgentConfig, type PluginFlags } from "./_common.ts";

export async function infoCommand(target: string, flags: PluginFlags): Promise<number> {
  if (!target) throw usageError("cli", "missing the plugin: an id or a directory");
  const { config } = loadAgentConfig(flags);
  const { manifest, source, installed } = await findPlugin(target, config.plugins.directory);
  const { dir: _dir, file: _file, builtin: _builtin, ...fields } = manifest;
  const schema = configJsonSchema(manifest);
  if (flags.json) {
    console.log(JSON.stringify({ ...fields, source, dir: manifest.dir, ...(installed && { installed }), config_schema: schema }, null, 2));
    return EXIT.ok;
  }
  const { limits, permissions } = manifest;
  const list = (items: readonly string[]) => (items.length > 0 ? items.join(", ") : "none");
  const lines = [
    `${manifest.name} (${manifest.id}) ${manifest.version}`,
    ...(manifest.description ? [manifest.description] : []),
    "",
    `type:        ${manifest.type}`,
    `runtime:     ${manifest.runtime.type}, entry ${manifest.runtime.entry_point}${manifest.runtime.version ? ` (${manifest.runtime.version})` : ""}`,
    `source:      ${source}${installed ? ` (installed ${installed.installed_at}, previous ${installed.previous ?? "none"})` : ""}`,
    `directory:   ${manifest.dir}`,
    ...(manifest.author ? [`author:      ${manifest.author}`] : []),
    ...(manifest.license ? [`license:     ${manifest.license}`] : []),
    `idempotent:  ${manifest.idempotent ? "yes" : "no"}`,
    ...(manifest.tags.length > 0 ? [`tags:        ${manifest.tags.join(", ")}`] : []),
    "",
    "permissions:",
    `  network:      ${permissions.network ? "yes" : "no"}`,
    `  read:         ${list(permissions.filesystem.read)}`,
    `  write:        ${list(permissions.filesystem.write)}`,
    `  exec:         ${list(permissions.exec)}`,
    `  system_calls: ${list(permissions.system_calls)}`,
    `  capabilities: ${list(permissions.capabilities)}`,
    "limits (0 = the agent's sandbox default):",
    `  memory:         ${limits.memory > 0 ? formatSize(limits.memory) : "0"}`,
    `  cpu:            ${limits.cpu}`,
    `  execution_time: ${limits.execution_time > 0 ? formatDuration(limits.execution_time) : "0"}`,
    "",
    "configuration (JSON Schema):",
    JSON.stringify(schema, null, 2),
  ];
  console.log(lines.join("\n"));
  return EXIT.ok;
}
