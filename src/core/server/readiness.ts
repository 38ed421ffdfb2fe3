/** When an agent is ready for work, and the reasons it is not: one pure function, so each rule is testable. */

export interface ReadinessInputs {
  now: number;
  /** agent.heartbeat in ms: the orchestrator must have answered within HEARTBEATS_OF_SILENCE of them. */
  heartbeatMs: number;
  registration: "pending" | "registered" | "unsupported";
  /** api.state.lastSuccessAt. */
  lastSuccessAt?: number;
  authFailing: boolean;
  lastError?: string;
  runtime: "starting" | "running" | "stopped";
  stopping: boolean;
  /** The runtime's own reasons, e.g. "events cannot be spooled: … database or disk is full". */
  problems?: readonly string[];
}

export interface Readiness {
  ready: boolean;
  reasons: string[];
}

export const HEARTBEATS_OF_SILENCE = 3;

export function checkReadiness(inputs: ReadinessInputs): Readiness {
  const reasons: string[] = [];
  if (inputs.stopping) reasons.push("the agent is stopping");
  if (inputs.registration === "pending") reasons.push("not registered with the orchestrator yet");
  const window = HEARTBEATS_OF_SILENCE * inputs.heartbeatMs;
  const last = inputs.lastError ? ` (last error: ${inputs.lastError})` : "";
  if (inputs.lastSuccessAt === undefined) reasons.push(`the orchestrator has not been reached yet${last}`);
  else if (inputs.now - inputs.lastSuccessAt > window) {
    reasons.push(`the orchestrator was last reached ${Math.round((inputs.now - inputs.lastSuccessAt) / 1000)}s ago (more than ${HEARTBEATS_OF_SILENCE} heartbeats)${last}`);
  }
  if (inputs.authFailing) reasons.push("the orchestrator refuses the agent's token");
  if (inputs.runtime === "starting") reasons.push("plugins are still loading");
  if (inputs.runtime === "stopped") reasons.push("the runtime has stopped");
  reasons.push(...(inputs.problems ?? []));
  return { ready: reasons.length === 0, reasons };
}
