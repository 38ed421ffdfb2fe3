/**
 * Where the worker entry is. From source it sits beside this file. Inside the compiled binary every
 * build entrypoint is embedded under the common root of all entrypoints (src/), so the path is
 * relative to that root — keep it in step with scripts/build.ts (entry-url.test.ts checks it).
 */
declare const STAVILY_BUILD_TARGET: string | undefined;

export const EMBEDDED_WORKER_ENTRY = "./core/plugin/worker/entry.ts";

export function workerEntryUrl(): string {
  if (typeof STAVILY_BUILD_TARGET === "string") return EMBEDDED_WORKER_ENTRY;
  return new URL("./entry.ts", import.meta.url).href;
}
