/**
 * A running instruction's log lines, sent to the orchestrator as `execution_log` updates while it
 * runs: at most one PUT a second per instruction, each capped in size, never blocking the plugin.
 * Lines that do not fit the cap are counted and said so in the next batch.
 */
import type { ApiClient } from "../core/api/index.ts";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/log/index.ts";

const INTERVAL_MS = 1_000;
const MAX_BATCH_BYTES = 64 * 1024;
const MAX_LINE_BYTES = 4 * 1024;

export function createLogStream(options: { api: ApiClient; logger: Logger; instructionId: string; signal: AbortSignal; onCancelled?: () => void }) {
  const { api, logger, instructionId, signal } = options;
  let pending: string[] = [];
  let pendingBytes = 0;
  let dropped = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sending: Promise<void> = Promise.resolve();

  function flush(): Promise<void> {
    timer = undefined;
    if (pending.length === 0 && dropped === 0) return sending;
    const lines = dropped > 0 ? [...pending, `[${dropped} log lines dropped: over ${MAX_BATCH_BYTES} bytes a second]`] : pending;
    pending = [];
    pendingBytes = 0;
    dropped = 0;
    sending = sending.then(async () => {
      try {
        const answer = await api.update(instructionId, { execution_log: lines }, signal);
        // The orchestrator may say, in any update's answer, that the instruction was cancelled.
        if (answer.cancelled) options.onCancelled?.();
      } catch (error) {
        // The full log also goes with the result; a lost progress update costs nothing else.
        logger.debug("execution log update not sent", { instruction_id: instructionId, error: errorMessage(error) });
      }
    });
    return sending;
  }

  return {
    push(line: string): void {
      const text = line.length > MAX_LINE_BYTES ? `${line.slice(0, MAX_LINE_BYTES)}… [truncated]` : line;
      if (pendingBytes + text.length > MAX_BATCH_BYTES) {
        dropped++;
      } else {
        pending.push(text);
        pendingBytes += text.length;
      }
      timer ??= setTimeout(() => void flush(), INTERVAL_MS);
    },
    /**
     * Stops streaming and returns the lines not sent yet, for the result to carry (the orchestrator
     * appends both, so a line must travel once): a run shorter than the interval costs no update.
     * Waits for an update already on its way.
     */
    async close(): Promise<string[]> {
      clearTimeout(timer);
      await sending;
      const unsent = dropped > 0 ? [...pending, `[${dropped} log lines dropped: over ${MAX_BATCH_BYTES} bytes a second]`] : pending;
      pending = [];
      dropped = 0;
      return unsent;
    },
  };
}
