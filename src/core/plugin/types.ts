/**
 * The one contract between the agents and a running plugin, whichever runtime hosts it: a Bun
 * Worker (TypeScript plugins), a child process speaking the Stavily stdio protocol (python, node,
 * bash, executable), or a re-executed `stavily` process (sandbox levels `process` and `strict`).
 * One contract test suite runs against every implementation.
 */

export type PluginKind = "trigger" | "action" | "output";

/** `PluginLaunch.entry` of a plugin compiled into the binary: `builtin:<id>` (registry: plugins/all.ts). */
export const BUILTIN_PREFIX = "builtin:";
/**
 * Set to `PluginLaunch.agentHome` in the environment of every process started for a plugin (stdio
 * plugins, ctx.exec children), after the plugin's own: what an agent restarted after a kill -9 finds
 * its predecessor's leftovers by (reap.ts).
 */
export const AGENT_HOME_ENV = "STAVILY_AGENT_HOME";
export type PluginRuntimeType = "bun" | "python" | "node" | "bash" | "executable";
export type Severity = "low" | "medium" | "high" | "critical";

/** What the agent tells a plugin about itself; `ctx.agent` in the SDK. */
export interface AgentIdentity {
  id: string;
  type: "sensor" | "action";
  name: string;
  environment: string;
  tags: string[];
}

/** Everything a host needs to start one plugin instance. */
export interface PluginLaunch {
  /** Plugin id from the manifest. */
  id: string;
  /** Instance name (a trigger id, or the plugin id); one plugin may run as several instances. */
  instance: string;
  kind: PluginKind;
  /** Absolute path of the plugin's directory (its plugin.yaml beside the entry point). */
  dir: string;
  /** Absolute path of the entry point (for bun: a .ts/.js module; else the script or executable). */
  entry: string;
  runtime: PluginRuntimeType;
  /** The validated configuration the plugin sees. */
  config: Record<string, unknown>;
  agent: AgentIdentity;
  /** Private work dir (created by the host); cwd of stdio plugins. */
  workDir: string;
  /** Where `ctx.logger` and a stdio plugin's stderr go: `<home>/logs/plugins/<id>.log`. */
  logFile: string;
  /** Directory of the plugin's persistent key-value state (`ctx.state`). */
  stateDir: string;
  permissions: PluginPermissions;
  limits: PluginLimits;
  /**
   * Absolute path of the home of the agent running the plugin (set by the agents' plugin host, not by
   * `plugin run`): marks its processes with AGENT_HOME_ENV. Without it, they are not marked.
   */
  agentHome?: string;
  /** Extra environment declared for the plugin (stdio children get only these plus a scrubbed base). */
  env?: Record<string, string>;
  /**
   * Secrets the operator grants this plugin (`plugins.secrets.<id>`: names of the agent's environment
   * variables): `ctx.secret(name)` for bun plugins, the environment for stdio children. Kept apart from
   * `env` so ctx.exec never passes them on to the commands a plugin runs.
   */
  secrets?: Record<string, string>;
}

export interface PluginPermissions {
  network: boolean;
  filesystem: { read: string[]; write: string[] };
  /** Executables `ctx.exec` may run (names or absolute paths); empty = none. */
  exec: string[];
  system_calls: string[];
  capabilities: string[];
}

export interface PluginLimits {
  /** Bytes; 0 = no limit beyond the sandbox's. */
  memory: number;
  /** Cores (fraction allowed); 0 = no limit. */
  cpu: number;
  /** Milliseconds for one call (detect, execute, send); 0 = the agent's default. */
  execution_time: number;
}

/** An event as a trigger reports it; the agent adds id, timestamp, source, trigger_id and agent_id. */
export interface DetectedEvent {
  type: string;
  severity?: Severity;
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  tags?: string[];
  /** Events with the same key are one condition, for cooldowns. */
  dedupe_key?: string;
}

/**
 * A detected event as a runtime hands it on. `id` is the worker runtime's for a `detect` event: the
 * same when a run the agent did not live to commit is run again (stdio plugins and `watch` have none).
 */
export interface IdentifiedEvent extends DetectedEvent {
  id?: string;
}

/** What an action plugin is asked to do (built from an orchestrator instruction). */
export interface ActionRequest {
  id: string;
  type: string;
  parameters: Record<string, unknown>;
  context: Record<string, unknown>;
  variables: Record<string, unknown>;
  /** Seconds. */
  timeout: number;
  metadata: Record<string, unknown>;
}

export interface ActionResult {
  status: "completed" | "failed";
  data?: Record<string, unknown>;
  error?: PluginErrorInfo;
}

/** An error as it crosses the host ↔ plugin boundary. */
export interface PluginErrorInfo {
  message: string;
  /** e.g. "timeout", "crashed", "invalid_output", "permission_denied", "plugin_error". */
  code?: string;
  retryable?: boolean;
  details?: Record<string, unknown>;
}

export interface PluginHealth {
  status: "healthy" | "degraded" | "unhealthy";
  message?: string;
}

export interface CallOptions {
  /** Absolute deadline (epoch ms) for the call; past it the call rejects with code "timeout". */
  deadline: number;
  /** Aborts the call (the plugin's abort signal fires). */
  signal?: AbortSignal;
}

/** How an instance ended, for the supervisor. */
export interface PluginExit {
  reason: "stopped" | "crashed" | "killed" | "exited";
  code?: number | null;
  message?: string;
}

/**
 * One running plugin instance. Every method rejects with a PluginError (never hangs past its
 * deadline, never throws synchronously), and every pending call rejects when the instance dies.
 */
export interface PluginInstance {
  readonly launch: PluginLaunch;
  /** Loads the plugin and runs its init and start with the launch config. */
  start(options: CallOptions): Promise<void>;
  /** Triggers: one scheduled run. */
  detect(options: CallOptions): Promise<IdentifiedEvent[]>;
  /** Triggers with `watch`: pushed events arrive here until stop. */
  onEvent(listener: (event: DetectedEvent) => void): void;
  /** Actions: log lines the plugin writes during `execute` are passed to `onLog` as they come. */
  execute(request: ActionRequest, options: CallOptions & { onLog?: (line: string) => void }): Promise<ActionResult>;
  /** Outputs. */
  send(batch: readonly unknown[], options: CallOptions): Promise<void>;
  health(options: CallOptions): Promise<PluginHealth>;
  /** Asks the plugin to stop (its stop hook), then ends the worker/process; kills at the deadline. */
  stop(options: CallOptions): Promise<void>;
  /** Ends it now: worker.terminate() or SIGKILL to the process group. */
  kill(): void;
  /** Resolves once when the instance has ended, however it ended. */
  readonly exited: Promise<PluginExit>;
}

export type PluginHostFactory = (launch: PluginLaunch) => PluginInstance;
