export { createSandboxedInstance } from "./_instance.ts";
export { checkSandboxLevel, type CheckOptions } from "./_check.ts";
export { buildBwrapArgv, NETWORK_READ_ONLY, SYSTEM_READ_ONLY, type BwrapPlan } from "./_bwrap.ts";
export { SANDBOX_DEFAULTS, SANDBOX_LEVELS, PLUGIN_HOST_EXIT, type SandboxLevel, type SandboxOptions } from "./_options.ts";
// runPluginHost is not re-exported: it loads the whole worker runtime (systeminformation included), which an agent's main thread must not. Import ./_host-process.ts directly.
