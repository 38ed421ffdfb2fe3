import { createConsola, type ConsolaInstance, type LogObject, LogLevels } from "consola/core";
import { buildEntry, type LogEntry } from "./_entry.ts";
import { formatJson, formatText } from "./_format.ts";
import { isEnabled, type LineLevel, type LogIdentity, type LoggingOptions, type LogLevel, resolveOptions } from "./_options.ts";
import { createSink, type LogIO, processIO, type Sink } from "./_sink.ts";

type Fields = Record<string, unknown>;

/** The logging surface the rest of the code sees; consola stays an implementation detail. */
export interface Logger {
  trace(msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  /** An Error in place of fields is logged as the field `error`. */
  error(msg: string, fields?: Fields | Error): void;
  /** Logs only; exiting is the caller's decision. */
  fatal(msg: string, fields?: Fields | Error): void;
  /** A child logger whose lines carry `component`; a child's child carries `parent:child`. */
  child(component: string): Logger;
  /** Flush and close file handles (await pending gzip). Shared by a logger and all its children. */
  close(): Promise<void>;
}

const SILENT: Sink = { color: false, write() {}, close: async () => {} };

function wrap(engine: ConsolaInstance, level: LogLevel, close: () => Promise<void>): Logger {
  const emit = (type: LineLevel) => (msg: string, fields?: Fields | Error) => {
    // Checked here, not only by consola, which gives `error` and `fatal` the same level; it also skips
    // redaction work for lines that would be dropped.
    if (!isEnabled(level, type)) return;
    // A log object rather than arguments, so consola hands `fields` to the reporter untouched.
    engine[type]({ args: [msg], fields: fields instanceof Error ? { error: fields } : fields });
  };
  return {
    trace: emit("trace"),
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    fatal: emit("fatal"),
    child: (component) => wrap(engine.withTag(component), level, close),
    close,
  };
}

/**
 * Opens the output at once (a log file that cannot be opened fails start-up) except at level `silent`.
 * `io` is the process's stdout, stderr and environment unless a test passes its own.
 */
export function createLogger(options: LoggingOptions, identity: LogIdentity = {}, io: LogIO = processIO()): Logger {
  const resolved = resolveOptions(options);
  const sink = resolved.level === "silent" ? SILENT : createSink(resolved, io);
  const context = { identity: { ...identity }, withStack: isEnabled(resolved.level, "debug") };
  const format = resolved.format === "json" ? formatJson : (entry: LogEntry) => formatText(entry, { color: sink.color });
  const reporter = {
    log(logObj: LogObject) {
      const fields = logObj.fields as Fields | undefined;
      const entry = buildEntry(logObj.type as LineLevel, logObj.date, logObj.args[0], fields, { ...context, component: logObj.tag || undefined });
      sink.write(format(entry));
    },
  };
  const engine = createConsola({
    level: LogLevels[resolved.level],
    reporters: [reporter],
    // Repeated lines are never folded into "(repeated n times)": every line is written, in order.
    throttle: 0,
    throttleMin: Number.POSITIVE_INFINITY,
  });
  let closing: Promise<void> | undefined;
  return wrap(engine, resolved.level, () => (closing ??= sink.close()));
}
