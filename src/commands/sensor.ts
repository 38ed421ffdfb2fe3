import { runAgent } from "../core/agent/index.ts";
import { loadConfig } from "../core/config/index.ts";
import { createSensorRuntime } from "../sensor/runtime.ts";
import { toLoadOptions, type ConfigFlags } from "./config.ts";

/** `stavily sensor`: runs until SIGTERM/SIGINT. */
export function sensorCommand(flags: ConfigFlags): Promise<number> {
  const options = { ...toLoadOptions(flags), type: "sensor" as const };
  return runAgent({ load: () => loadConfig(options), runtime: createSensorRuntime() });
}
