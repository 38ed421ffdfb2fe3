/** Options of the orchestrator app, declared once with their defaults. */
export interface AppOptions {
  /** Token that guards /api/v1. */
  adminToken: string;
  /** Accept any non-empty agent token (development on loopback only). */
  insecureDev: boolean;
  /** Longest long poll, in seconds: `?wait=` is capped to it. */
  maxWaitSeconds: number;
  /** `next_poll_interval` answered when there is nothing to do, in seconds. */
  pollIntervalSeconds: number;
  /** `heartbeat_interval` answered to a registration, in seconds; also the base of online/stale. */
  heartbeatIntervalSeconds: number;
  /** Largest request body; a larger one is answered 413 before it is read. */
  maxBodyBytes: number;
  /** Receives failures no handler expected (answered 500); the server passes its logger. */
  reportError: (error: unknown) => void;
}

export const APP_DEFAULTS: Omit<AppOptions, "adminToken"> = {
  insecureDev: false,
  maxWaitSeconds: 60,
  pollIntervalSeconds: 5,
  heartbeatIntervalSeconds: 30,
  maxBodyBytes: 4 * 1024 * 1024,
  reportError: (error) => console.error(error),
};

/** Default lease of a delivered instruction, in ms. */
export const DEFAULT_LEASE_MS = 60_000;

/** Default deliveries of one instruction: the lease lapsing after the last of them fails it as undeliverable. */
export const DEFAULT_MAX_DELIVERIES = 10;
