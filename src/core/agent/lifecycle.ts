/**
 * The life of an agent, shared by sensor and action: config → home (locked) → logger → leftovers of an
 * earlier run reaped → API client → register → heartbeat → the runtime's own loops, until a signal.
 *
 * SIGTERM/SIGINT: stop taking work, let in-flight work finish for up to `agent.shutdown_grace`,
 * cancel what is left, send one `offline` heartbeat, exit 0. A second signal stops at once.
 * SIGHUP: reload the config; intervals and the log level apply at once, the rest at the next restart.
 */
import { hostname } from "node:os";
import { createApiClient, type ApiClient } from "../api/index.ts";
import { buildInfo } from "../build-info.ts";
import type { Config, LoadedConfig } from "../config/index.ts";
import { errorMessage, EXIT, usageError } from "../errors.ts";
import { acquireHomeLock, prepareAgentHome, type AgentHome } from "../home/index.ts";
import { createAuditLog, type AuditLog } from "../audit/index.ts";
import { createLogger, type Logger } from "../log/index.ts";
import { loadCatalog } from "../plugin/catalog.ts";
import { reapLeftovers } from "../plugin/reap.ts";
import { createAgentMetrics, startAgentServer, type AgentServer } from "../server/index.ts";
import { beat, heartbeatLoop } from "./heartbeat.ts";
import { registerLoop } from "./register.ts";
import { sleep } from "../timing.ts";

export interface RuntimeContext {
  /** The current config; a SIGHUP reload swaps it. */
  config: () => Config;
  api: ApiClient;
  logger: Logger;
  home: AgentHome;
  /** Aborts when the agent stops taking work. */
  stop: AbortSignal;
  /** Aborts when in-flight work must be cancelled (grace over, or a second signal). */
  abort: AbortSignal;
  /** The tamper-evident audit log (a no-op when security.audit.enabled is false). */
  audit: AuditLog;
}

export interface AgentRuntime {
  /** Runs the runtime's loops; resolves once `stop` has aborted and its in-flight work has ended. */
  run(context: RuntimeContext): Promise<void>;
  /** Instruction ids in flight, for heartbeats. */
  running(): string[];
  /** Cancels these instructions (ids from a heartbeat answer). */
  cancel(ids: string[]): void;
  /** Per-plugin state and counters, carried by every heartbeat. */
  plugins?(): Promise<Record<string, unknown>>;
  /** True once its plugins are loaded, for /ready; without it, a runtime counts as started once run() is called. */
  started?(): boolean;
  /** What keeps it from doing its work right now (its spool or journal cannot be written): reasons on /ready, which answers 503. */
  problems?(): string[];
}

export interface RunAgentOptions {
  /** Loads (and on SIGHUP reloads) the config; throws a StavilyError on a bad one. */
  load: () => LoadedConfig;
  runtime: AgentRuntime;
}

const OFFLINE_BEAT_TIMEOUT_MS = 5_000;

export async function runAgent({ load, runtime }: RunAgentOptions): Promise<number> {
  const loaded = load();
  let config = loaded.config;
  const { agent } = config;
  refuseRoot(config);
  const home = prepareAgentHome(agent.base_dir, agent.id);
  const lock = acquireHomeLock(home, agent.id);
  let logger = createLogger(config.logging, { agent_id: agent.id, agent_type: agent.type });
  const log = () => logger.child("agent");
  const info = buildInfo();
  const startedAt = Date.now();
  for (const warning of loaded.warnings) log().warn(warning);
  // One writer for the agent's life: two open writers would fork the hash chain. A tampered tail
  // refuses the start (audit verify tells what happened) rather than writing on top of it.
  const audit = createAuditLog({ ...config.security.audit, agent_id: agent.id, onError: (error) => log().error("audit log", error instanceof Error ? error : new Error(errorMessage(error))) });
  audit.record("config.load", { file: loaded.file ?? null, agent_type: agent.type, version: buildInfo().version });
  if (lock.takenOver) log().warn("took over the home of an agent that did not stop cleanly", { previous_pid: lock.previous?.pid });
  // Before any plugin starts: what an earlier run of this home left running must not act for it now.
  await reapLeftovers(home.root, logger.child("plugins"));

  const pluginSummary = async () => (runtime.plugins ? await runtime.plugins() : {});
  let server: AgentServer | undefined;
  const metrics = createAgentMetrics({
    namespace: config.metrics.namespace,
    version: info.version,
    agentType: agent.type,
    plugins: pluginSummary,
    ready: () => server?.readiness().ready ?? false,
  });
  const api = metrics.instrument(
    createApiClient({
      config,
      agentType: agent.type,
      version: info.version,
      logger: logger.child("api"),
      onCall: metrics.onCall,
      onAuthFailure: (endpoint, status) => recordQuietly(audit, "auth.failure", { endpoint, status }, log()),
    }),
  );
  const stop = new AbortController();
  const abort = new AbortController();
  const signals = watchSignals({
    onStop: (name) => {
      log().info(`${name}: stopping; in-flight work has ${config.agent.shutdown_grace / 1000}s to finish`);
      stop.abort();
    },
    onForce: (name) => {
      log().warn(`${name} again: stopping now`);
      stop.abort();
      abort.abort();
    },
    onReload: () => {
      try {
        const next = load().config;
        const restartNeeded = ["agent.id", "agent.base_dir", "api", "security", "health.enabled", "health.bind", "health.port", "health.path", "metrics"].filter((key) => changed(config, next, key));
        config = next;
        logger = createLogger(next.logging, { agent_id: agent.id, agent_type: agent.type });
        log().info("config reloaded", restartNeeded.length ? { restart_needed_for: restartNeeded } : {});
        recordQuietly(audit, "config.reload", { accepted: true, restart_needed_for: restartNeeded }, log());
      } catch (error) {
        // The error itself, so each config problem is logged on its own line.
        log().error("config reload refused; keeping the running config", error instanceof Error ? error : new Error(errorMessage(error)));
        recordQuietly(audit, "config.reload", { accepted: false, error: errorMessage(error) }, log());
      }
    },
  });

  log().info(`stavily ${agent.type} agent ${agent.id} starting`, {
    version: info.version,
    home: home.root,
    orchestrator: config.api.base_url,
    pid: process.pid,
  });
  let registrationState: "pending" | "registered" | "unsupported" = "pending";
  let runtimeState: "starting" | "running" | "stopped" = "starting";
  try {
    server = startAgentServer({
      config: () => config,
      api,
      metrics,
      logger: log(),
      version: info.version,
      startedAt,
      plugins: pluginSummary,
      registration: () => registrationState,
      runtime: () => (runtimeState === "running" && runtime.started?.() === false ? "starting" : runtimeState),
      stopping: () => stop.signal.aborted,
      problems: () => runtime.problems?.() ?? [],
    });
  } catch (error) {
    // A taken port is a start-up error: nothing else has started, so release what has.
    signals.dispose();
    api.close();
    lock.release();
    await logger.close();
    throw error;
  }
  const heartbeatOptions = {
    api,
    version: info.version,
    startedAt,
    running: () => runtime.running(),
    plugins: pluginSummary,
  };
  const registered = registerLoop({ api, logger: log(), signal: stop.signal, body: await registration(config) });
  void registered.then((supported) => {
    if (!stop.signal.aborted) registrationState = supported ? "registered" : "unsupported";
  });
  const heartbeats = heartbeatLoop({
    ...heartbeatOptions,
    logger: log(),
    intervalMs: () => config.agent.heartbeat,
    onCancel: (ids) => runtime.cancel(ids),
    signal: stop.signal,
  });
  const work = runtime.run({ config: () => config, api, logger: logger.child(agent.type), home, stop: stop.signal, abort: abort.signal, audit });
  runtimeState = "running";
  void work.finally(() => (runtimeState = "stopped")).catch(() => {});

  // A runtime that fails (its spool cannot be opened) stops the whole agent, in order, then the
  // error reaches the CLI: the heartbeat and the health server must not keep a dead agent looking alive.
  let failure: { error: unknown } | undefined;
  const ended = work.catch((error: unknown) => {
    failure = { error };
  });
  await Promise.race([waitFor(stop.signal), ended]);
  if (failure) log().error("the runtime failed; stopping the agent", { error: errorMessage(failure.error) });
  stop.abort();
  const graceOver = sleep(config.agent.shutdown_grace, abort.signal).then(() => "grace" as const);
  if ((await Promise.race([ended.then(() => "done" as const), graceOver])) === "grace" && !abort.signal.aborted) {
    log().warn("shutdown grace over; cancelling in-flight work", { running: runtime.running() });
  }
  abort.abort();
  await Promise.allSettled([work, heartbeats, registered]);

  try {
    await beat(heartbeatOptions, "offline", AbortSignal.timeout(OFFLINE_BEAT_TIMEOUT_MS));
    log().info("offline heartbeat sent; stopped");
  } catch (error) {
    log().warn("could not send the offline heartbeat; stopped", { error: errorMessage(error) });
  }
  await server.stop();
  signals.dispose();
  api.close();
  await audit.close();
  lock.release();
  await logger.close();
  if (failure) throw failure.error;
  return EXIT.ok;
}

/**
 * An agent runs plugins and commands for a remote orchestrator: as root, any mistake in a rule or
 * a plugin is root's. It runs as a dedicated user unless the operator says otherwise.
 */
export function refuseRoot(config: Config, uid = process.getuid?.()): void {
  if (uid !== 0 || config.security.allow_root) return;
  throw usageError(
    "security",
    `refusing to run the ${config.agent.type} agent as root: run it as a dedicated user (docs/security.md), or set security.allow_root: true (--set security.allow_root=true) if you mean it`,
  );
}

/** A reload already happened: a failed audit write is logged, not thrown. */
function recordQuietly(audit: AuditLog, event: "config.reload" | "auth.failure", fields: Record<string, unknown>, logger: Logger): void {
  try {
    audit.record(event, fields);
  } catch (error) {
    logger.error("audit record not written", { event, error: errorMessage(error) });
  }
}

async function registration(config: Config) {
  const info = buildInfo();
  const catalog = await loadCatalog(config.plugins);
  return {
    agent_type: config.agent.type,
    name: config.agent.name,
    version: info.version,
    hostname: hostname(),
    os: info.os,
    arch: info.arch,
    tenant_id: config.agent.tenant_id,
    environment: config.agent.environment,
    region: config.agent.region,
    tags: config.agent.tags,
    plugins: [...catalog.entries.values()].map(({ manifest }) => ({ id: manifest.id, version: manifest.version, type: manifest.type })),
    max_concurrent_tasks: config.agent.type === "action" ? config.action.max_concurrent_tasks : 0,
  };
}

function changed(a: Config, b: Config, path: string): boolean {
  const pick = (config: Config) => path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], config);
  return JSON.stringify(pick(a)) !== JSON.stringify(pick(b));
}

function waitFor(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })));
}

interface SignalHandlers {
  onStop: (name: string) => void;
  onForce: (name: string) => void;
  onReload: () => void;
}

function watchSignals(handlers: SignalHandlers) {
  let stopping = false;
  const stopOrForce = (name: NodeJS.Signals) => () => {
    if (stopping) handlers.onForce(name);
    else handlers.onStop(name);
    stopping = true;
  };
  const onTerm = stopOrForce("SIGTERM");
  const onInt = stopOrForce("SIGINT");
  const onHup = () => handlers.onReload();
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onInt);
  // Windows has no SIGHUP to listen for.
  if (process.platform !== "win32") process.on("SIGHUP", onHup);
  return {
    dispose() {
      process.off("SIGTERM", onTerm);
      process.off("SIGINT", onInt);
      if (process.platform !== "win32") process.off("SIGHUP", onHup);
    },
  };
}
