/**
 * The life of an agent, shared by sensor and action: config → home (locked) → logger → API client →
 * register → heartbeat → the runtime's own loops, until a signal.
 *
 * SIGTERM/SIGINT: stop taking work, let in-flight work finish for up to `agent.shutdown_grace`,
 * cancel what is left, send one `offline` heartbeat, exit 0. A second signal stops at once.
 * SIGHUP: reload the config; intervals and the log level apply at once, the rest at the next restart.
 */
import { hostname } from "node:os";
import { createApiClient, type ApiClient } from "../api/index.ts";
import { buildInfo } from "../build-info.ts";
import type { Config, LoadedConfig } from "../config/index.ts";
import { errorMessage, EXIT } from "../errors.ts";
import { acquireHomeLock, prepareAgentHome, type AgentHome } from "../home/index.ts";
import { createLogger, type Logger } from "../log/index.ts";
import { loadCatalog } from "../plugin/catalog.ts";
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
  const home = prepareAgentHome(agent.base_dir, agent.id);
  const lock = acquireHomeLock(home, agent.id);
  let logger = createLogger(config.logging, { agent_id: agent.id, agent_type: agent.type });
  const log = () => logger.child("agent");
  const info = buildInfo();
  const startedAt = Date.now();
  for (const warning of loaded.warnings) log().warn(warning);
  if (lock.takenOver) log().warn("took over the home of an agent that did not stop cleanly", { previous_pid: lock.previous?.pid });

  const api = createApiClient({ config, agentType: agent.type, version: info.version, logger: logger.child("api") });
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
        const restartNeeded = ["agent.id", "agent.base_dir", "api", "security"].filter((key) => changed(config, next, key));
        config = next;
        logger = createLogger(next.logging, { agent_id: agent.id, agent_type: agent.type });
        log().info("config reloaded", restartNeeded.length ? { restart_needed_for: restartNeeded } : {});
      } catch (error) {
        // The error itself, so each config problem is logged on its own line.
        log().error("config reload refused; keeping the running config", error instanceof Error ? error : new Error(errorMessage(error)));
      }
    },
  });

  log().info(`stavily ${agent.type} agent ${agent.id} starting`, {
    version: info.version,
    home: home.root,
    orchestrator: config.api.base_url,
    pid: process.pid,
  });
  const heartbeatOptions = {
    api,
    version: info.version,
    startedAt,
    running: () => runtime.running(),
    plugins: async () => (runtime.plugins ? await runtime.plugins() : {}),
  };
  const registered = registerLoop({ api, logger: log(), signal: stop.signal, body: await registration(config) });
  const heartbeats = heartbeatLoop({
    ...heartbeatOptions,
    logger: log(),
    intervalMs: () => config.agent.heartbeat,
    onCancel: (ids) => runtime.cancel(ids),
    signal: stop.signal,
  });
  const work = runtime.run({ config: () => config, api, logger: logger.child(agent.type), home, stop: stop.signal, abort: abort.signal });

  await Promise.race([waitFor(stop.signal), work]);
  stop.abort();
  const graceOver = sleep(config.agent.shutdown_grace, abort.signal).then(() => "grace" as const);
  if ((await Promise.race([work.then(() => "done" as const), graceOver])) === "grace" && !abort.signal.aborted) {
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
  signals.dispose();
  api.close();
  lock.release();
  await logger.close();
  return EXIT.ok;
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
