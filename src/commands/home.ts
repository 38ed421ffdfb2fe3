import { loadConfig } from "../core/config/index.ts";
import { acquireHomeLock, prepareAgentHome } from "../core/home/index.ts";
import { toLoadOptions, type ConfigFlags } from "./config.ts";

/** Creates the agent home with its layout and modes; refused while the agent is running. */
export function homeInitCommand(flags: ConfigFlags): number {
  const { config } = loadConfig(toLoadOptions(flags));
  const home = prepareAgentHome(config.agent.base_dir, config.agent.id);
  const lock = acquireHomeLock(home, config.agent.id);
  try {
    if (lock.takenOver && lock.previous) {
      console.error(`note: took over a stale lock left by pid ${lock.previous.pid} (${lock.previous.hostname}, started ${lock.previous.startedAt})`);
    }
    console.log(`ok: home of ${config.agent.type} agent "${config.agent.id}" is ready at ${home.root}`);
  } finally {
    lock.release();
  }
  return 0;
}
