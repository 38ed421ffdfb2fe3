/** Tunables of the stdio runtime, declared once with their defaults; tests shrink them. */
export interface StdioOptions {
  /** Longest stdout line kept (an answer line); a longer answer is `invalid_output`. */
  maxAnswerBytes: number;
  /** Longest stderr (or non-answer stdout) line logged; the rest of the line is cut. */
  maxLogLineBytes: number;
  /** Log lines (stderr and stdout noise together) written per second; the excess is dropped and counted. */
  logLinesPerSecond: number;
  /** Between SIGTERM and SIGKILL to the process group. */
  killGraceMs: number;
  /** After the child exits, how long to wait for the rest of its stdout (an answer written just before exit). */
  drainMs: number;
  /** Deadline of resolving an interpreter (a version manager's shim runs once to name the real binary). */
  resolveTimeoutMs: number;
}

export const STDIO_DEFAULTS: StdioOptions = {
  maxAnswerBytes: 4 * 1024 * 1024,
  maxLogLineBytes: 8 * 1024,
  logLinesPerSecond: 200,
  killGraceMs: 2000,
  drainMs: 500,
  resolveTimeoutMs: 10_000,
};
