export { createStdioInstance, type StdioDeps } from "./_instance.ts";
export { STDIO_DEFAULTS, type StdioOptions } from "./_options.ts";
