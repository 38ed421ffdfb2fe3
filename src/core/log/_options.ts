import { isAbsolute } from "node:path";
import { usageError } from "../errors.ts";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

/** The levels a line can have; `silent` is only a threshold. */
export type LineLevel = Exclude<LogLevel, "silent">;

export interface LoggingOptions {
  /** Lowest level written; `silent` writes nothing. */
  level: LogLevel;
  /** `text` for people, `json` for one object per line (log shippers). */
  format: "text" | "json";
  /** Where lines go. */
  output: "stdout" | "stderr" | "file";
  /** Absolute path of the log file, used when output is "file". */
  file: string;
  /** Rotate once the file would pass this many bytes; 0 = never rotate. */
  max_size: number;
  /** Rotated files kept, newest first; 0 = keep all. */
  max_backups: number;
  /** Rotated files older than this many milliseconds are deleted; 0 = no age limit. */
  max_age: number;
  /** Gzip rotated files. */
  compress: boolean;
}

export interface LogIdentity {
  agent_id?: string;
  agent_type?: string;
}

/** The config schema's logging defaults (src/core/config/schema.ts), for loggers made without a config. */
export const LOGGING_DEFAULTS: LoggingOptions = {
  level: "info",
  format: "text",
  output: "stderr",
  file: "",
  max_size: 100_000_000,
  max_backups: 5,
  max_age: 30 * 24 * 60 * 60 * 1000,
  compress: true,
};

/** Higher is more verbose. A rank of its own because consola puts `error` and `fatal` on one level. */
export const LEVEL_RANK: Record<LogLevel, number> = {
  silent: -1,
  fatal: 0,
  error: 1,
  warn: 2,
  info: 3,
  debug: 4,
  trace: 5,
};

export function isEnabled(threshold: LogLevel, level: LineLevel): boolean {
  return LEVEL_RANK[level] <= LEVEL_RANK[threshold];
}

/**
 * Merges defaults and checks what the config schema may not have: a logger that cannot write must fail
 * at start-up, not on the first line.
 */
export function resolveOptions(options: Partial<LoggingOptions>): LoggingOptions {
  const resolved = { ...LOGGING_DEFAULTS, ...options };
  const problems: string[] = [];
  if (!(resolved.level in LEVEL_RANK)) problems.push(`level: unknown level "${resolved.level}"`);
  if (resolved.format !== "text" && resolved.format !== "json") problems.push(`format: must be "text" or "json"`);
  if (!["stdout", "stderr", "file"].includes(resolved.output)) problems.push(`output: must be "stdout", "stderr" or "file"`);
  if (resolved.output === "file" && !isAbsolute(resolved.file)) {
    problems.push(`file: an absolute path is required when output is "file" (got "${resolved.file}")`);
  }
  for (const key of ["max_size", "max_backups", "max_age"] as const) {
    const value = resolved[key];
    if (!Number.isFinite(value) || value < 0) problems.push(`${key}: must be a number ≥ 0 (got ${value})`);
  }
  if (problems.length > 0) throw usageError("log", "invalid logging options", { details: problems });
  return resolved;
}
