export { createLogger, type Logger } from "./_logger.ts";
export { LOGGING_DEFAULTS, type LogIdentity, type LoggingOptions, type LogLevel } from "./_options.ts";
export type { LogIO, LogStream } from "./_sink.ts";
