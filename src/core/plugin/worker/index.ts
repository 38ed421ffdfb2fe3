export { createWorkerInstance, WORKER_HOST_DEFAULTS, type WorkerHostOptions } from "./host.ts";
export { createRpc, type Rpc } from "./rpc.ts";
export { BUILTIN_PREFIX } from "./_protocol.ts";
export type { HostMessage, WorkerMessage } from "./_protocol.ts";
export { FLOOD_DEFAULTS, type FloodLimits } from "./_flood.ts";
