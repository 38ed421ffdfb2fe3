/** Per-plugin counters: they go into every heartbeat, /status and /metrics. */
export interface PluginStats {
  /** Calls made (detect, execute, send). */
  runs: number;
  /** Calls that ended in an error, timeouts and kills included. */
  failures: number;
  /** Calls stopped at their deadline. */
  timeouts: number;
  /** Instances ended by force (deadline passed the grace period, or stopped unresponsive). */
  kills: number;
  /** Instances started again after a crash or kill. */
  restarts: number;
  /** Instances that ended without being asked to. */
  crashes: number;
  /** Scheduled runs skipped because the previous one was still going (counted by the scheduler). */
  skipped: number;
}

export function emptyStats(): PluginStats {
  return { runs: 0, failures: 0, timeouts: 0, kills: 0, restarts: 0, crashes: 0, skipped: 0 };
}
