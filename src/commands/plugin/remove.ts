/** `stavily plugin remove <id>`: uninstalls a plugin, every kept version. */
import { EXIT } from "../../core/errors.ts";
import { remove } from "../../core/plugin/install/index.ts";
import { BUILTIN_PLUGINS } from "../../../plugins/all.ts";
import type { PluginFlags } from "./_common.ts";
import { installedOrRefuse } from "./_installed.ts";

export async function removeCommand(id: string, flags: PluginFlags): Promise<number> {
  const { directory, installed } = await installedOrRefuse(id, flags, "remove");
  await remove(directory, installed.id);
  const builtin = BUILTIN_PLUGINS[installed.id] ? `; the built-in ${installed.id} is used again` : "";
  console.log(`ok: removed ${installed.id}@${installed.version}${installed.previous ? ` and its previous version ${installed.previous}` : ""}${builtin}`);
  return EXIT.ok;
}
