/** `stavily plugin rollback <id>`: the previous installed version becomes current again. */
import { EXIT, usageError } from "../../core/errors.ts";
import { rollback } from "../../core/plugin/install/index.ts";
import type { PluginFlags } from "./_common.ts";
import { installedOrRefuse } from "./_installed.ts";

export async function rollbackCommand(id: string, flags: PluginFlags): Promise<number> {
  const { directory, installed } = await installedOrRefuse(id, flags, "roll back");
  if (!installed.previous) throw usageError("plugin", `cannot roll back ${installed.id}: no previous version is kept (current ${installed.version})`);
  const now = await rollback(directory, installed.id);
  console.log(`ok: ${now.id} rolled back from ${installed.version} to ${now.version} (run rollback again to return to ${installed.version})`);
  return EXIT.ok;
}
