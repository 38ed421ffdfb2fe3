/**
 * Host side of plugin logging: every line the worker sends passes the flood gate, then goes to the
 * plugin's log file and, when it belongs to an `execute` call with an onLog, to that caller.
 */
import { createLogger, LOGGING_DEFAULTS, type Logger, type LogLevel } from "../../log/index.ts";
import type { PluginLaunch } from "../types.ts";
import { createFloodGate, type FloodLimits } from "./_flood.ts";
import type { WorkerMessage } from "./_protocol.ts";

type LogMessage = Extract<WorkerMessage, { t: "log" }>;

export interface PluginLog {
  write(line: LogMessage, onLog?: (line: string) => void): void;
  /** Lines dropped by the flood gate so far. */
  readonly dropped: number;
  close(): Promise<void>;
}

/** `logger` given: lines go there (and closing it is the caller's job); else a JSON file at launch.logFile. */
export function createPluginLog(launch: PluginLaunch, options: { logger?: Logger; level: LogLevel; flood: FloodLimits }): PluginLog {
  const owned = !options.logger;
  const base = options.logger ?? createLogger({ ...LOGGING_DEFAULTS, level: options.level, format: "json", output: "file", file: launch.logFile });
  const logger = base.child(launch.instance);
  const gate = createFloodGate(options.flood);
  const report = (dropped: number) => logger.warn("log lines dropped: the plugin logged faster than allowed", { dropped, ...options.flood });
  return {
    write(line, onLog) {
      const size = line.msg.length + (line.fields ? jsonLength(line.fields) : 0);
      if (!gate.admit(size, report)) return;
      logger[line.level](line.msg, line.fields);
      onLog?.(formatLine(line));
    },
    get dropped() {
      return gate.dropped;
    },
    close() {
      gate.flush(report);
      return owned ? base.close() : Promise.resolve();
    },
  };
}

/** What an `execute` caller's onLog receives: `info message {"field":1}`. */
export function formatLine(line: LogMessage): string {
  return `${line.level} ${line.msg}${line.fields && Object.keys(line.fields).length > 0 ? ` ${JSON.stringify(line.fields)}` : ""}`;
}

function jsonLength(fields: Record<string, unknown>): number {
  try {
    return JSON.stringify(fields).length;
  } catch {
    return 0;
  }
}
