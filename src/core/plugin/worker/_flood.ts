/**
 * Log flood control: a plugin that logs in a tight loop must not fill the disk or starve the host.
 * A fixed one-second window; lines past either cap are dropped and counted, and the count is
 * reported once the next window opens.
 */
export interface FloodLimits {
  /** Lines admitted per second per instance. */
  linesPerSecond: number;
  /** Bytes of message and fields admitted per second per instance. */
  bytesPerSecond: number;
}

export const FLOOD_DEFAULTS: FloodLimits = { linesPerSecond: 200, bytesPerSecond: 256 * 1024 };

export interface FloodGate {
  /** True when the line may be written. `report` is called first with the count dropped in the last window. */
  admit(bytes: number, report: (dropped: number) => void): boolean;
  /** Reports what was dropped in the current window and not reported yet (at the end of an instance). */
  flush(report: (dropped: number) => void): void;
  /** Lines dropped since the gate was made. */
  readonly dropped: number;
}

export function createFloodGate(limits: FloodLimits, now: () => number = Date.now): FloodGate {
  let windowStart = now();
  let lines = 0;
  let bytes = 0;
  let droppedInWindow = 0;
  let droppedTotal = 0;
  return {
    admit(size, report) {
      const time = now();
      if (time - windowStart >= 1000) {
        windowStart = time;
        lines = 0;
        bytes = 0;
        if (droppedInWindow > 0) report(droppedInWindow);
        droppedInWindow = 0;
      }
      if (lines + 1 > limits.linesPerSecond || bytes + size > limits.bytesPerSecond) {
        droppedInWindow++;
        droppedTotal++;
        return false;
      }
      lines++;
      bytes += size;
      return true;
    },
    flush(report) {
      if (droppedInWindow > 0) report(droppedInWindow);
      droppedInWindow = 0;
    },
    get dropped() {
      return droppedTotal;
    },
  };
}
