/**
 * Messages between the host and a plugin worker. Every call carries an id and an absolute deadline;
 * every reply names the call it answers. The worker side is plugin code's neighbour, so the host
 * treats whatever arrives as untrusted and checks its shape (see _validate.ts).
 */
import type { PluginErrorInfo, PluginLaunch } from "../types.ts";

export type CallMethod = "start" | "detect" | "execute" | "send" | "health" | "stop";

/** Host → worker. */
export type HostMessage =
  | { t: "call"; id: number; method: CallMethod; args: unknown[]; deadline: number }
  /** The call's signal aborted or its deadline passed: the worker aborts that call's ctx.signal. */
  | { t: "abort"; id: number; reason: string };

export type LogLevelName = "trace" | "debug" | "info" | "warn" | "error";

/** Worker → host. */
export type WorkerMessage =
  | { t: "ok"; id: number; value: unknown }
  | { t: "fail"; id: number; error: PluginErrorInfo }
  /** `call` ties a line to the call whose ctx wrote it (for `execute`'s onLog). */
  | { t: "log"; level: LogLevelName; msg: string; fields?: Record<string, unknown>; call?: number }
  /** A `watch` trigger pushed an event. */
  | { t: "event"; event: unknown }
  /** The worker VM's JS heap (bun:jsc heapSize), sent while launch.limits.memory is set. */
  | { t: "heap"; bytes: number }
  /**
   * A `ctx.exec` child started (running) or ended. Each leads a process group of its own, which the
   * plugin's end does not reach: the host kills the groups still running when the instance ends.
   */
  | { t: "exec"; pid: number; running: boolean };

/** The `start` call's one argument. */
export interface StartArgs {
  launch: PluginLaunch;
  /** How often the worker reports its heap when launch.limits.memory > 0. */
  heapReportMs: number;
  /**
   * Where the worker records the pids of its running ctx.exec children (0 = a free slot), shared with
   * the host: messages still queued when a worker is terminated are dropped, this memory is not.
   */
  execSlots?: Int32Array;
}

/** The `detect` and `stop` calls' one argument. */
export interface RunArgs {
  /**
   * The host took the events of the last `detect` (checked them and handed them on to be spooled):
   * only then does the worker commit that run's ctx.state writes.
   */
  taken: boolean;
}

export { BUILTIN_PREFIX } from "../types.ts";

/** Any thrown value as it crosses the boundary; keeps `code` and `retryable` the plugin set. */
export function toErrorInfo(error: unknown, fallbackCode = "plugin_error"): PluginErrorInfo {
  if (typeof error === "object" && error !== null) {
    const { message, code, retryable, name } = error as { message?: unknown; code?: unknown; retryable?: unknown; name?: unknown };
    const text = typeof message === "string" && message !== "" ? message : String(name ?? "error");
    return {
      message: text,
      code: typeof code === "string" && code !== "" ? code : fallbackCode,
      retryable: retryable === true,
    };
  }
  return { message: String(error), code: fallbackCode, retryable: false };
}
