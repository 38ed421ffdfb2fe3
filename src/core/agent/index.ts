export { runAgent, type AgentRuntime, type RuntimeContext, type RunAgentOptions } from "./lifecycle.ts";
export { createPoller, type PollOptions } from "./poll.ts";
export { sleep, backoff } from "../timing.ts";
