import { createActionRuntime } from "../action/runtime.ts";
import { runAgent } from "../core/agent/index.ts";
import { loadConfig } from "../core/config/index.ts";
import { toLoadOptions, type ConfigFlags } from "./config.ts";

/** `stavily action`: runs until SIGTERM/SIGINT. */
export function actionCommand(flags: ConfigFlags): Promise<number> {
  const options = { ...toLoadOptions(flags), type: "action" as const };
  return runAgent({ load: () => loadConfig(options), runtime: createActionRuntime() });
}
