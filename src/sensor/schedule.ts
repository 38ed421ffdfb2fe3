/**
 * The trigger scheduler: each enabled trigger's `detect` runs every `interval` (with ±10 %
 * jitter, so triggers of many agents do not beat in step), never overlapping itself, at most
 * `sensor.max_concurrent_triggers` at once, each within its manifest's `limits.execution_time`,
 * else `sensor.trigger_timeout`. A run that could not happen on time because the previous one
 * was still going is counted and logged, never silent. Push-style `watch` triggers deliver
 * through `onEvents` as events come.
 */
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/log/index.ts";
import type { PluginHost } from "../core/plugin/host.ts";
import type { SupervisedPlugin } from "../core/plugin/supervisor.ts";
import type { DetectedEvent } from "../core/plugin/types.ts";
import { backoff, sleep } from "../core/timing.ts";
import type { Trigger } from "./events.ts";

export interface SchedulerOptions {
  triggers: readonly Trigger[];
  host: PluginHost;
  logger: Logger;
  maxConcurrent: number;
  /** Deadline of a run when the plugin's manifest gives no `limits.execution_time` (sensor.trigger_timeout). */
  timeoutMs: number;
  onEvents: (trigger: Trigger, events: DetectedEvent[]) => void;
  signal: AbortSignal;
}

const JITTER = 0.1;

export async function runTriggers(options: SchedulerOptions): Promise<void> {
  const slots = createSemaphore(options.maxConcurrent);
  await Promise.all(options.triggers.filter((trigger) => trigger.enabled).map((trigger) => runTrigger(trigger, options, slots)));
}

async function runTrigger(trigger: Trigger, options: SchedulerOptions, slots: Semaphore): Promise<void> {
  const { logger, signal } = options;
  const fields = { trigger: trigger.id, plugin: trigger.plugin };
  const plugin = await startTrigger(trigger, options);
  if (!plugin) return;
  let next = Date.now() + Math.random() * trigger.interval * JITTER;
  while (!signal.aborted) {
    await sleep(next - Date.now(), signal);
    if (signal.aborted) break;
    const release = await slots.acquire(signal);
    if (!release) break;
    const started = Date.now();
    try {
      // The manifest's execution_time is the plugin's own limit, as for actions and outputs.
      const events = await plugin.detect({ timeoutMs: plugin.launch.limits.execution_time || options.timeoutMs, signal });
      if (events.length > 0) options.onEvents(trigger, events);
    } catch (error) {
      if (!signal.aborted) logger.warn("trigger run failed", { ...fields, error: errorMessage(error) });
    } finally {
      release();
    }
    const jitter = 1 + (Math.random() * 2 - 1) * JITTER;
    next = started + trigger.interval * jitter;
    const late = Date.now() - next;
    if (late > 0) {
      // The run (or the wait for a free slot) outlasted the interval: the runs that fell due
      // meanwhile did not happen. Counted, logged, and the schedule starts again from now.
      const missed = Math.max(1, Math.floor(late / trigger.interval));
      plugin.recordSkipped(missed);
      logger.warn("trigger runs skipped: the previous run was still going", { ...fields, skipped: missed, run_ms: Date.now() - started, interval_ms: trigger.interval });
      next = Date.now();
    }
  }
}

/** Starts the trigger's plugin instance, retrying with backoff; undefined once stopped. */
async function startTrigger(trigger: Trigger, options: SchedulerOptions): Promise<SupervisedPlugin | undefined> {
  for (let attempt = 0; !options.signal.aborted; attempt++) {
    try {
      return await options.host.instance(trigger.plugin, {
        instance: trigger.id,
        kind: "trigger",
        config: trigger.config,
        onEvent: (event) => options.onEvents(trigger, [event]),
      });
    } catch (error) {
      const waitMs = Math.max(backoff(attempt, 1_000, 300_000), 1_000);
      options.logger.error("trigger could not start; retrying", { trigger: trigger.id, plugin: trigger.plugin, error: errorMessage(error), retry_in_ms: waitMs });
      await sleep(waitMs, options.signal);
    }
  }
  return undefined;
}

type Semaphore = ReturnType<typeof createSemaphore>;

function createSemaphore(size: number) {
  let free = size;
  const waiting: Array<() => void> = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else free++;
  };
  return {
    /** A release function, or undefined when the signal aborted while waiting. */
    acquire(signal: AbortSignal): Promise<(() => void) | undefined> {
      if (free > 0) {
        free--;
        return Promise.resolve(release);
      }
      return new Promise((resolve) => {
        const grant = () => {
          signal.removeEventListener("abort", cancel);
          resolve(release);
        };
        const cancel = () => {
          const index = waiting.indexOf(grant);
          if (index >= 0) waiting.splice(index, 1);
          resolve(undefined);
        };
        waiting.push(grant);
        signal.addEventListener("abort", cancel, { once: true });
      });
    },
  };
}
