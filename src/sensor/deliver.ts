/**
 * Delivery of spooled events to `POST /agents/v1/{id}/events`: in batches of `sensor.batch_size`,
 * or every `sensor.flush_interval`, whichever comes first; one Idempotency-Key per batch, derived
 * from its event ids so a retried batch is the same key; events leave the spool only once
 * acknowledged. While the orchestrator is unreachable: backoff, never a spin, never a loss.
 */
import type { ApiClient } from "../core/api/index.ts";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/log/index.ts";
import type { EventSpool } from "../core/spool/index.ts";
import { backoff, sleep } from "../core/timing.ts";

export interface DeliveryOptions {
  spool: EventSpool;
  api: ApiClient;
  logger: Logger;
  batchSize: () => number;
  flushIntervalMs: () => number;
  retryBaseMs: number;
  signal: AbortSignal;
}

const RETRY_CAP_MS = 60_000;
const RETRY_FLOOR_MS = 250;

export function createDelivery(options: DeliveryOptions) {
  const { spool, api, logger, signal } = options;
  let wakeUp: (() => void) | undefined;
  let failures = 0;
  let unsupportedLogged = false;
  const stats = { batches: 0, delivered: 0, failures: 0, lastSuccessAt: undefined as number | undefined };

  /** Resolves when `ms` pass, `wake()` is called, or the delivery stops. */
  const waitForWork = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      wakeUp = done;
    });

  /** Sends one batch of the oldest events; true when the spool has more waiting. */
  async function sendBatch(stop: AbortSignal): Promise<boolean> {
    const batch = spool.peek(options.batchSize());
    if (batch.length === 0) return false;
    const events = batch.map((item) => item.event);
    const ids = events.map((event) => event.id);
    const key = `events:${new Bun.CryptoHasher("sha256").update(ids.join("\n")).digest("hex").slice(0, 32)}`;
    const answer = await api.sendEvents(events, key, stop);
    if (!answer.supported) {
      if (!unsupportedLogged) logger.error("the orchestrator has no events endpoint; events stay in the spool until it has one");
      unsupportedLogged = true;
      throw new Error("events endpoint not supported");
    }
    spool.acknowledge(ids);
    stats.batches++;
    stats.delivered += ids.length;
    stats.lastSuccessAt = Date.now();
    return spool.depth().events > 0;
  }

  return {
    stats,
    /** New events were spooled: a full batch goes out at once. */
    wake(): void {
      if (spool.depth().events >= options.batchSize()) wakeUp?.();
    },
    async run(): Promise<void> {
      while (!signal.aborted) {
        let more = false;
        try {
          more = await sendBatch(signal);
          if (failures > 0) logger.info("event delivery restored", { failures, depth: spool.depth().events });
          failures = 0;
        } catch (error) {
          if (signal.aborted) break;
          failures++;
          stats.failures++;
          const waitMs = Math.max(backoff(failures, options.retryBaseMs, RETRY_CAP_MS), RETRY_FLOOR_MS);
          if ((failures & (failures - 1)) === 0) {
            logger.warn("event delivery failed; events stay spooled", { error: errorMessage(error), failures, depth: spool.depth().events, retry_in_ms: waitMs });
          }
          await sleep(waitMs, signal);
          continue;
        }
        if (!more || spool.depth().events < options.batchSize()) await waitForWork(options.flushIntervalMs());
      }
    },
    /** At shutdown: one last attempt to deliver what is spooled, within `deadlineMs`. */
    async drain(deadlineMs: number): Promise<void> {
      const stop = AbortSignal.timeout(deadlineMs);
      try {
        while (!stop.aborted && (await sendBatch(stop))) {}
      } catch (error) {
        logger.info("events left in the spool for the next start", { depth: spool.depth().events, error: errorMessage(error) });
      }
    },
  };
}
