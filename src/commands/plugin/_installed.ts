/** The installed plugin `remove` and `rollback` act on, or a usage error saying why there is none. */
import { usageError } from "../../core/errors.ts";
import { describeInstalled } from "../../core/plugin/install/index.ts";
import { BUILTIN_PLUGINS } from "../../../plugins/all.ts";
import { loadAgentConfig, type PluginFlags } from "./_common.ts";

export async function installedOrRefuse(id: string, flags: PluginFlags, verb: string) {
  if (!id) throw usageError("cli", "missing the plugin id");
  const { config } = loadAgentConfig(flags);
  const directory = config.plugins.directory;
  const installed = await describeInstalled(directory, String(id)).catch((error) => {
    throw usageError("plugin", `cannot ${verb} ${id}: ${(error as Error).message}`, { cause: error });
  });
  if (!installed) {
    const builtin = BUILTIN_PLUGINS[id] ? ` (${id} is built in: it is part of the binary)` : "";
    throw usageError("plugin", `cannot ${verb} ${id}: it is not installed in ${directory}${builtin}`);
  }
  return { directory, installed };
}
