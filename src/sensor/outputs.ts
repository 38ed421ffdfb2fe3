/**
 * Output plugins get every event the sensor spools. Each output has its own bounded queue and its
 * own sending loop, so a slow or failing output holds up neither the orchestrator's delivery nor
 * the other outputs: it retries with backoff, and past `queue_size` its oldest events are dropped
 * and counted. Outputs are best effort by design — the spool and the orchestrator are the record.
 */
import type { Config } from "../core/config/index.ts";
import { errorMessage } from "../core/errors.ts";
import { PluginError } from "../core/plugin/errors.ts";
import type { Logger } from "../core/log/index.ts";
import type { PluginHost } from "../core/plugin/host.ts";
import type { TriggerEvent } from "../core/protocol/index.ts";
import { backoff, sleep } from "../core/timing.ts";

type OutputConfig = Config["sensor"]["outputs"][number];

export interface OutputStats {
  sent: number;
  dropped: number;
  failures: number;
  queued: number;
}

export interface Outputs {
  push(events: readonly TriggerEvent[]): void;
  stats(): Record<string, OutputStats>;
  /** Sends what is queued until stopped; resolves when every output loop has ended. */
  run(): Promise<void>;
}

/** Failures of the plugin's process or of its time limit, retried whatever the plugin said. */
const RETRY_CODES = new Set(["timeout", "crashed", "killed", "unavailable", "quarantined"]);
const RETRY_BASE_MS = 1_000;
const RETRY_CAP_MS = 60_000;

export function createOutputs(options: {
  outputs: readonly OutputConfig[];
  host: PluginHost;
  logger: Logger;
  batchSize: () => number;
  signal: AbortSignal;
}): Outputs {
  const { host, logger, signal } = options;
  const enabled = options.outputs.filter((output) => output.enabled);
  const state = new Map(
    enabled.map((output) => [output.id, { output, queue: [] as TriggerEvent[], wake: undefined as (() => void) | undefined, stats: { sent: 0, dropped: 0, failures: 0, queued: 0 } }]),
  );

  async function loop(item: NonNullable<ReturnType<typeof state.get>>): Promise<void> {
    const { output, stats } = item;
    const fields = { output: output.id, plugin: output.plugin };
    let plugin: Awaited<ReturnType<PluginHost["instance"]>> | undefined;
    for (let attempt = 0; !signal.aborted; ) {
      if (item.queue.length === 0) {
        await new Promise<void>((resolve) => {
          item.wake = resolve;
          signal.addEventListener("abort", () => resolve(), { once: true });
        });
        item.wake = undefined;
        continue;
      }
      const batch = item.queue.slice(0, options.batchSize());
      try {
        plugin ??= await host.instance(output.plugin, { instance: output.id, kind: "output", config: output.config });
        // No timeoutMs: each output's own limits.execution_time applies, else the agent's default.
        await plugin.send(batch, { signal });
        item.queue.splice(0, batch.length);
        stats.sent += batch.length;
        if (attempt > 0) logger.info("output restored", { ...fields, failures: attempt });
        attempt = 0;
      } catch (error) {
        if (signal.aborted) break;
        stats.failures++;
        if (error instanceof PluginError && !error.retryable && !RETRY_CODES.has(error.code)) {
          // The output refuses this batch for good (a 400 from a webhook, say): resending it would
          // only block the events behind it until the queue overflows.
          item.queue.splice(0, batch.length);
          stats.dropped += batch.length;
          logger.warn("output rejected a batch; dropped", { ...fields, events: batch.length, error: errorMessage(error) });
          continue;
        }
        attempt++;
        const waitMs = Math.max(backoff(attempt, RETRY_BASE_MS, RETRY_CAP_MS), 250);
        if ((attempt & (attempt - 1)) === 0) logger.warn("output failed; retrying", { ...fields, error: errorMessage(error), queued: item.queue.length, retry_in_ms: waitMs });
        await sleep(waitMs, signal);
      }
    }
  }

  return {
    push(events) {
      for (const item of state.values()) {
        item.queue.push(...events);
        const excess = item.queue.length - item.output.queue_size;
        if (excess > 0) {
          item.queue.splice(0, excess);
          item.stats.dropped += excess;
        }
        item.wake?.();
      }
    },
    stats: () => Object.fromEntries([...state].map(([id, item]) => [id, { ...item.stats, queued: item.queue.length }])),
    run: async () => {
      if (state.size > 0) logger.info(`sending events to ${state.size} output${state.size === 1 ? "" : "s"}`, { outputs: [...state.keys()] });
      await Promise.all([...state.values()].map(loop));
    },
  };
}
