/** Exit codes of the `stavily` executable. */
export const EXIT = {
  ok: 0,
  /** Something failed while running: a lock held by another agent, an unwritable directory, … */
  failure: 1,
  /** The command line or the configuration is wrong; nothing was started. */
  usage: 2,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface StavilyErrorOptions {
  cause?: unknown;
  exitCode?: ExitCode;
  /** Further lines printed under the message (one problem a line). */
  details?: string[];
}

/**
 * The one error type that crosses module boundaries. `component` says who raised it
 * (`config`, `home`, `log`, …) so a one-line report is enough to know where to look.
 */
export class StavilyError extends Error {
  readonly component: string;
  readonly exitCode: ExitCode;
  readonly details: string[];

  constructor(component: string, message: string, options: StavilyErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "StavilyError";
    this.component = component;
    this.exitCode = options.exitCode ?? EXIT.failure;
    this.details = options.details ?? [];
  }
}

/** A wrong command line or configuration: exit code 2. */
export function usageError(component: string, message: string, options: Omit<StavilyErrorOptions, "exitCode"> = {}) {
  return new StavilyError(component, message, { ...options, exitCode: EXIT.usage });
}

/** The message of any thrown value, for one-line reports. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
