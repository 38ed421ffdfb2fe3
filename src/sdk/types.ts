/**
 * What a plugin author sees: the context every hook receives and the shape of each plugin kind.
 * Types only; the worker runtime (src/core/plugin/worker/context) supplies the implementation.
 */
import type { GenericSchema } from "valibot";
import type {
  ActionRequest,
  AgentIdentity,
  DetectedEvent,
  PluginHealth,
} from "../core/plugin/types.ts";

export type { ActionRequest, AgentIdentity, DetectedEvent, PluginHealth, Severity } from "../core/plugin/types.ts";

type Fields = Record<string, unknown>;

/** Lines go to the host, which writes `logs/plugins/<id>.log`; during `execute` they also stream to the caller. */
export interface PluginLogger {
  trace(msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields | Error): void;
}

export interface ExecOptions {
  /** Kill the whole process group after this long; default 30 s. */
  timeoutMs?: number;
  /** Bytes kept of stdout and of stderr each; the rest is dropped and `truncated` set. Default 1 MiB. */
  maxOutputBytes?: number;
  /** Default: the plugin's work dir. */
  cwd?: string;
  /** Added to the plugin's declared environment (nothing of the agent's is inherited). */
  env?: Record<string, string>;
  /** Written to the child's stdin, then stdin is closed. */
  stdin?: string;
}

export interface ExecResult {
  /** null when killed by a signal. */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** An output passed maxOutputBytes. */
  truncated: boolean;
  /** Killed because timeoutMs passed. */
  timedOut: boolean;
  /** Killed because the call was aborted (cancelled, or past its time limit). */
  aborted: boolean;
  durationMs: number;
}

/** Only paths under `permissions.filesystem.read` / `.write`, after resolving symlinks. */
export interface PluginFs {
  readText(path: string): Promise<string>;
  writeText(path: string, text: string): Promise<void>;
  list(path: string): Promise<string[]>;
  stat(path: string): Promise<{ size: number; isFile: boolean; isDirectory: boolean; mtimeMs: number }>;
}

/** Host metrics, so plugins need not bundle a metrics library. */
export interface PluginSystem {
  /** Percent 0–100: overall and per core. */
  cpuLoad(): Promise<{ load: number; cores: number[] }>;
  /** Bytes. */
  memory(): Promise<{ total: number; used: number; free: number; available: number; swapTotal: number; swapUsed: number }>;
  /** Mounted filesystems, bytes. */
  disks(): Promise<{ mount: string; fs: string; type: string; size: number; used: number; available: number; usePercent: number }[]>;
  /** The busiest processes first, at most `limit` (default 20). */
  processes(limit?: number): Promise<{ pid: number; name: string; cpu: number; memRss: number; command: string }[]>;
  /** Per-interface counters; `rxSec`/`txSec` are bytes per second since the previous call (null on the first). */
  network(): Promise<{ iface: string; rxBytes: number; txBytes: number; rxSec: number | null; txSec: number | null }[]>;
}

/** A small persistent key-value store per plugin; values are JSON. */
export interface PluginState {
  get<T = unknown>(key: string): T | undefined;
  set(key: string, value: unknown): void;
  delete(key: string): boolean;
  keys(): string[];
}

export interface PluginContext<Config = Record<string, unknown>> {
  logger: PluginLogger;
  /** Validated by `configSchema` when the plugin has one. */
  config: Config;
  agent: AgentIdentity;
  /** The plugin's private work directory (absolute). */
  workDir: string;
  /** Aborts when the current call is aborted or passes its deadline. */
  signal: AbortSignal;
  /** Runs an executable listed in `permissions.exec`. */
  exec(argv: string[], options?: ExecOptions): Promise<ExecResult>;
  /** `fetch`, only with `permissions.network`; else throws permission_denied. */
  fetch: typeof fetch;
  fs: PluginFs;
  system: PluginSystem;
  state: PluginState;
  /**
   * A secret the operator granted this plugin (`plugins.secrets.<id>` lists environment variables
   * of the agent); undefined when not granted or not set. Never put secrets in instruction parameters.
   */
  secret(name: string): string | undefined;
  /** Marks an error retryable (returns it), for `throw ctx.retryable(err)`. */
  retryable<E>(error: E): E extends object ? E : Error;
}

/** Hooks every kind may have. */
export interface PluginHooks<Config> {
  /** Validates `config` before anything else runs; the validated output is `ctx.config`. */
  configSchema?: GenericSchema<any, Config>;
  /** Checks and prepares; throw to refuse to start. */
  init?(ctx: PluginContext<Config>): void | Promise<void>;
  start?(ctx: PluginContext<Config>): void | Promise<void>;
  stop?(ctx: PluginContext<Config>): void | Promise<void>;
  health?(ctx: PluginContext<Config>): PluginHealth | void | Promise<PluginHealth | void>;
}

export type DetectOutput = DetectedEvent | DetectedEvent[] | null | undefined | void;

export interface TriggerPlugin<Config = Record<string, unknown>> extends PluginHooks<Config> {
  /** One scheduled run. */
  detect?(ctx: PluginContext<Config>): DetectOutput | Promise<DetectOutput>;
  /** Pushes events until `ctx.signal` aborts (at stop). */
  watch?(ctx: PluginContext<Config>, emit: (event: DetectedEvent) => void): void | Promise<void>;
}

export interface ActionOutput {
  status?: "completed" | "failed";
  /** Kept with a failed result too (a failed command's output, say). */
  data?: Record<string, unknown>;
  /** Why it failed, for the orchestrator's error_message and error_details. */
  error?: { message: string; code?: string; retryable?: boolean; details?: Record<string, unknown> };
}

export interface ActionPlugin<Config = Record<string, unknown>> extends PluginHooks<Config> {
  /** Throwing fails the action; a retryable error (see `ctx.retryable`) may be tried again. */
  execute(ctx: PluginContext<Config>, request: ActionRequest, signal: AbortSignal): ActionOutput | void | Promise<ActionOutput | void>;
}

export interface OutputPlugin<Config = Record<string, unknown>> extends PluginHooks<Config> {
  send(ctx: PluginContext<Config>, batch: readonly unknown[]): void | Promise<void>;
}

export type AnyPlugin = TriggerPlugin<any> | ActionPlugin<any> | OutputPlugin<any>;
