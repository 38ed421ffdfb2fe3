/**
 * The watchdog around one plugin instance, whatever runtime hosts it. It keeps the agent alive
 * whatever the plugin does:
 * - a call past its time limit is aborted (the plugin's signal fires), then after the grace period
 *   the instance is killed and the call fails with code "timeout";
 * - an instance that crashes, exits or is killed is started again with exponential backoff;
 * - more than `maxCrashes` ends within `crashWindowMs` quarantine it: calls fail at once with code
 *   "quarantined" and health is unhealthy, until `reload()`.
 */
import type { Logger } from "../log/index.ts";
import { backoff, sleep } from "../timing.ts";
import { errorMessage } from "../errors.ts";
import { PluginError } from "./errors.ts";
import { emptyStats, type PluginStats } from "./_stats.ts";
import type { ActionRequest, ActionResult, DetectedEvent, PluginHealth, PluginHostFactory, PluginInstance, PluginLaunch } from "./types.ts";

export interface SupervisorOptions {
  launch: PluginLaunch;
  factory: PluginHostFactory;
  logger: Logger;
  /** Deadline of lifecycle calls (start, health, stop): `plugins.timeout`. */
  controlTimeoutMs: number;
  /** Time limit of detect/execute/send when neither the call nor the manifest gives one. */
  defaultCallTimeoutMs: number;
  /** Between the abort signal and the kill: `action.cancel_grace_period`. */
  graceMs: number;
  maxCrashes?: number;
  crashWindowMs?: number;
  restartBaseMs?: number;
  restartCapMs?: number;
  /** Told when the plugin is quarantined, for the heartbeat and the audit log. */
  onQuarantine?: (reason: string) => void;
  /** Events pushed by `watch` triggers, from whichever instance is current. */
  onEvent?: (event: DetectedEvent) => void;
}

/** How long after the kill a runtime's own deadline falls. */
const KILL_MARGIN_MS = 1_000;
/**
 * Codes of a call the runtime stopped waiting for, without the plugin's answer. Not `unsent`: a call
 * aborted while it waited its turn (stdio) never reached the plugin, whose call in flight may be fine.
 */
const GAVE_UP = new Set(["cancelled", "aborted", "timeout"]);
/** Codes of a call whose instance ended under it. */
const DIED = new Set(["crashed", "killed"]);

export type SupervisedState = "starting" | "running" | "restarting" | "quarantined" | "stopped";

export interface CallLimits {
  /** Overrides the manifest's execution_time (an instruction's timeout). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export function supervisePlugin(options: SupervisorOptions) {
  const { launch, logger } = options;
  const maxCrashes = options.maxCrashes ?? 5;
  const crashWindowMs = options.crashWindowMs ?? 10 * 60_000;
  const stats: PluginStats = emptyStats();
  const crashTimes: number[] = [];
  let state: SupervisedState = "starting";
  let quarantineReason: string | undefined;
  let instance: PluginInstance | undefined;
  let ready: Promise<void> = Promise.resolve();
  let restartAttempt = 0;
  const lifetime = new AbortController();

  const fail = (code: string, message: string, retryable = false) => new PluginError(launch.id, { code, message, retryable });

  async function startInstance(): Promise<void> {
    const current = options.factory(launch);
    instance = current;
    if (options.onEvent) current.onEvent(options.onEvent);
    void current.exited.then((exit) => {
      if (instance !== current || state === "stopped") return;
      instance = undefined;
      stats.crashes++;
      logger.warn("plugin instance ended", { plugin: launch.id, instance: launch.instance, reason: exit.reason, code: exit.code, message: exit.message });
      onEnded(`${exit.reason}${exit.message ? `: ${exit.message}` : ""}`);
    });
    await current.start({ deadline: Date.now() + options.controlTimeoutMs, signal: lifetime.signal });
    restartAttempt = 0;
    state = "running";
  }

  /** An instance ended by itself or by a kill: quarantine, or restart after a backoff. */
  function onEnded(reason: string) {
    const now = Date.now();
    crashTimes.push(now);
    while (crashTimes.length > 0 && crashTimes[0]! < now - crashWindowMs) crashTimes.shift();
    if (crashTimes.length > maxCrashes) {
      state = "quarantined";
      quarantineReason = `${crashTimes.length} crashes in ${Math.round(crashWindowMs / 60_000)} min; last: ${reason}`;
      logger.error("plugin quarantined", { plugin: launch.id, instance: launch.instance, reason: quarantineReason });
      options.onQuarantine?.(quarantineReason);
      return;
    }
    state = "restarting";
    const waitMs = Math.max(backoff(restartAttempt++, options.restartBaseMs ?? 1_000, options.restartCapMs ?? 60_000), 50);
    ready = sleep(waitMs, lifetime.signal).then(async () => {
      if (state !== "restarting") return;
      stats.restarts++;
      try {
        await startInstance();
        logger.info("plugin restarted", { plugin: launch.id, instance: launch.instance, restarts: stats.restarts });
      } catch (error) {
        logger.warn("plugin restart failed", { plugin: launch.id, error: errorMessage(error) });
        instance?.kill();
      }
    });
  }

  /** The running instance, waiting through a restart up to `deadline`. */
  async function current(deadline: number): Promise<PluginInstance> {
    if (state === "quarantined") throw fail("quarantined", `quarantined (${quarantineReason}); reload it to try again`);
    if (state === "stopped") throw fail("stopped", "stopped");
    if (!instance || state !== "running") {
      if ((await orLate(ready, deadline - Date.now())) === LATE || !instance || state !== "running") {
        throw fail("unavailable", `not running (${state})`, true);
      }
    }
    return instance;
  }

  /**
   * One call under the time limit: at the limit the plugin's signal aborts; after the grace period
   * the instance is killed (and restarted) and the call fails with "timeout".
   */
  /** Calls in progress, so a retiring version can let them finish. */
  const inFlight = new Set<Promise<unknown>>();

  function call<T>(limits: CallLimits, run: (target: PluginInstance, signal: AbortSignal, deadline: number) => Promise<T>): Promise<T> {
    const pending = guardedCall(limits, run);
    inFlight.add(pending);
    void pending.catch(() => {}).finally(() => inFlight.delete(pending));
    return pending;
  }

  async function guardedCall<T>(limits: CallLimits, run: (target: PluginInstance, signal: AbortSignal, deadline: number) => Promise<T>): Promise<T> {
    const limitMs = limits.timeoutMs || launch.limits.execution_time || options.defaultCallTimeoutMs;
    // An aborted signal fires no further event: a call cancelled before it began must not start.
    if (limits.signal?.aborted) throw fail("cancelled", "cancelled before it started");
    const started = Date.now();
    const target = await current(started + limitMs);
    if (limits.signal?.aborted) throw fail("cancelled", "cancelled before it started");
    stats.runs++;
    const controller = new AbortController();
    const forward = () => controller.abort(limits.signal?.reason);
    limits.signal?.addEventListener("abort", forward, { once: true });
    let timedOut = false;
    const abortTimer = setTimeout(() => {
      timedOut = true;
      controller.abort(fail("timeout", `no answer within ${limitMs} ms`));
    }, limitMs);
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    let killed: Promise<void> | undefined;
    const onAbort = () => {
      killed = new Promise((resolve) => {
        killTimer = setTimeout(() => {
          stats.kills++;
          logger.warn("plugin did not stop within the grace period; killing it", { plugin: launch.id, grace_ms: options.graceMs });
          target.kill();
          resolve();
        }, options.graceMs);
      });
    };
    controller.signal.addEventListener("abort", onAbort, { once: true });
    // The runtime's own deadline comes after the kill, so a plugin that ignores the abort is killed
    // (and counted) by the supervisor rather than merely timed out by its host.
    const deadline = started + limitMs + options.graceMs + KILL_MARGIN_MS;
    let answer: T;
    try {
      answer = await run(target, controller.signal, deadline);
    } catch (error) {
      stats.failures++;
      const code = error instanceof PluginError ? error.code : undefined;
      let ended = code !== undefined && DIED.has(code);
      if (killed && code !== undefined && GAVE_UP.has(code)) {
        // Aborted, and the runtime stopped waiting without the plugin's answer (a stdio child cannot
        // be told to abort): the plugin may still be working, so it gets the rest of the grace period.
        await killed;
        ended = true;
      }
      if (ended) {
        // The supervisor notices the end before answering, so the next call waits for the restart
        // instead of reaching the dead instance.
        await orLate(target.exited, options.controlTimeoutMs);
      }
      if (timedOut) {
        stats.timeouts++;
        throw fail("timeout", `no answer within ${limitMs} ms`);
      }
      if (limits.signal?.aborted) throw fail("cancelled", "cancelled");
      throw error instanceof PluginError ? error : fail("plugin_error", errorMessage(error));
    } finally {
      clearTimeout(abortTimer);
      clearTimeout(killTimer);
      limits.signal?.removeEventListener("abort", forward);
      controller.signal.removeEventListener("abort", onAbort);
    }
    // Past its limit the call timed out, however the plugin answered on its way out (a plugin
    // that stops cleanly when aborted returns rather than throws).
    if (timedOut) {
      stats.failures++;
      stats.timeouts++;
      throw fail("timeout", `no answer within ${limitMs} ms`);
    }
    return answer;
  }

  return {
    launch,
    get state(): SupervisedState {
      return state;
    },
    get stats(): Readonly<PluginStats> {
      return stats;
    },
    /** Starts the first instance; a plugin that cannot start is a start-up error. */
    async start(): Promise<void> {
      ready = startInstance();
      await ready;
    },
    detect: (limits: CallLimits = {}) => call(limits, (target, signal, deadline) => target.detect({ signal, deadline })),
    execute: (request: ActionRequest, limits: CallLimits & { onLog?: (line: string) => void } = {}): Promise<ActionResult> =>
      call(limits, (target, signal, deadline) => target.execute(request, { signal, deadline, onLog: limits.onLog })),
    send: (batch: readonly unknown[], limits: CallLimits = {}) => call(limits, (target, signal, deadline) => target.send(batch, { signal, deadline })),
    async health(): Promise<PluginHealth> {
      if (state === "quarantined") return { status: "unhealthy", message: `quarantined: ${quarantineReason}` };
      if (state !== "running" || !instance) return { status: "degraded", message: state };
      try {
        return await instance.health({ deadline: Date.now() + options.controlTimeoutMs });
      } catch (error) {
        return { status: "unhealthy", message: errorMessage(error) };
      }
    },
    /** Leaves quarantine (or restarts) with a fresh instance and a clean crash record. */
    async reload(): Promise<void> {
      const old = instance;
      instance = undefined;
      crashTimes.length = 0;
      quarantineReason = undefined;
      state = "starting";
      if (old) await stopInstance(old);
      ready = startInstance();
      await ready;
    },
    async stop(): Promise<void> {
      state = "stopped";
      lifetime.abort();
      const old = instance;
      instance = undefined;
      if (old) await stopInstance(old);
    },
    /** A scheduled run did not happen because the previous one was still going. */
    recordSkipped(count = 1): void {
      stats.skipped += count;
    },
    /** Stops after the calls in progress have ended (each within its own time limit). */
    async retire(): Promise<void> {
      await Promise.allSettled([...inFlight]);
      await this.stop();
    },
  };

  async function stopInstance(target: PluginInstance): Promise<void> {
    try {
      await target.stop({ deadline: Date.now() + options.controlTimeoutMs });
    } catch (error) {
      stats.kills++;
      logger.warn("plugin did not stop cleanly; killed", { plugin: launch.id, error: errorMessage(error) });
      target.kill();
    }
  }
}

export type SupervisedPlugin = ReturnType<typeof supervisePlugin>;

const LATE: unique symbol = Symbol("late");

/**
 * `promise`, or LATE after `ms`. The timer is cleared either way: one left running would hold the
 * agent's process open after it stopped, for up to plugins.timeout (its exit waits for the event loop).
 */
async function orLate<T>(promise: Promise<T>, ms: number): Promise<T | typeof LATE> {
  const done = new AbortController();
  try {
    return await Promise.race([promise, sleep(Math.max(0, ms), done.signal).then((): typeof LATE => LATE)]);
  } finally {
    done.abort();
  }
}
