import type { Logger } from "../../log/index.ts";
import type { StdioOptions } from "../stdio/index.ts";
import type { WorkerHostOptions } from "../worker/index.ts";

/** `security.sandbox.level`. */
export type SandboxLevel = "worker" | "process" | "strict";

export const SANDBOX_LEVELS: readonly SandboxLevel[] = ["worker", "process", "strict"];

/** Parent side: how `createSandboxedInstance` starts plugins. Declared once, defaults merged once. */
export interface SandboxOptions {
  /** `security.sandbox.network_access`: with false no plugin gets the network, whatever its permissions. */
  networkAccess: boolean;
  /**
   * Added to `limits.memory` for the RLIMIT_DATA of the Bun plugin host: the runtime maps ~262 MiB of
   * private writable memory (JIT pool, heap reservations) before any plugin code runs, and aborts at start
   * below that (measured with Bun 1.4.5 on linux-x64). The plugin's own budget is checked on its JS heap.
   */
  bunRuntimeReserve: number;
  /** Tunables of the stdio runtime (process and strict levels, and every non-bun plugin). */
  stdio?: Partial<StdioOptions>;
  /** Tunables of the worker runtime (bun plugins at level worker). */
  worker?: Partial<WorkerHostOptions>;
  /** The agent's logger, for problems of the host side. */
  logger?: Logger;
  /** Where `bwrap` and `prlimit` are looked for; the agent's PATH plus the system directories by default. */
  searchPath?: string;
}

export const SANDBOX_DEFAULTS: SandboxOptions = {
  networkAccess: true,
  bunRuntimeReserve: 384 * 1024 * 1024,
};

/** Child side: `stavily plugin-host`. */
export interface ServeOptions {
  /** How often the host checks the plugin's JS heap against limits.memory (when set). */
  heapReportMs: number;
  /** Events one `detect` may return, as at level worker. */
  maxEvents: number;
  /** Deadline of a request that carries none (the parent always sends one). */
  defaultCallMs: number;
  /** Longest request line (an output's batch); a longer one is refused. */
  maxRequestBytes: number;
}

export const SERVE_DEFAULTS: ServeOptions = {
  heapReportMs: 1000,
  maxEvents: 1000,
  defaultCallMs: 5 * 60_000,
  maxRequestBytes: 64 * 1024 * 1024,
};

/** Exit codes of `stavily plugin-host` beyond 0. */
export const PLUGIN_HOST_EXIT = {
  /** Run by hand: stdin is a terminal, not an agent. */
  usage: 2,
  /** The plugin's JS heap went over limits.memory. */
  memoryLimit: 3,
  /** Plugin code threw where no call catches it (a timer, an unawaited promise). */
  uncaught: 4,
} as const;

/** The system directories searched for `bwrap`/`prlimit` after PATH (an agent's PATH may be minimal). */
export const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
