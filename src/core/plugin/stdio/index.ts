export { createStdioInstance, type StdioDeps } from "./_instance.ts";
export { findPrlimit, type StdioCommand } from "./_spawn.ts";
export { STDIO_DEFAULTS, type StdioOptions } from "./_options.ts";
