export { type AgentHome, agentHomePaths, defaultBaseDir } from "./_paths.ts";
export { prepareAgentHome } from "./_prepare.ts";
export { acquireHomeLock, type HomeLock } from "./_lock.ts";
export type { Holder } from "./_holder.ts";
