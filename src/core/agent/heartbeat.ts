/**
 * The heartbeat loop: tells the orchestrator the agent is alive every `agent.heartbeat`, and hands
 * the cancellations its answers carry to the runtime.
 */
import type { ApiClient } from "../api/index.ts";
import type { Logger } from "../log/index.ts";
import { errorMessage } from "../errors.ts";
import { since, sleep } from "../timing.ts";

export interface HeartbeatOptions {
  api: ApiClient;
  logger: Logger;
  version: string;
  startedAt: number;
  /** Read each beat, so a reloaded config takes effect without a restart. */
  intervalMs: () => number;
  /** Instruction ids in flight, reported with each beat. */
  running: () => string[];
  /** Per-plugin state and counters. */
  plugins: () => Promise<Record<string, unknown>>;
  onCancel: (ids: string[]) => void;
  signal: AbortSignal;
}

export async function heartbeatLoop(options: HeartbeatOptions): Promise<void> {
  const { api, logger, signal } = options;
  let lastSuccess: number | undefined;
  let failures = 0;
  while (!signal.aborted) {
    try {
      const answer = await beat(options, "online");
      lastSuccess = Date.now();
      if (failures > 0) logger.info("heartbeat restored", { failures });
      failures = 0;
      if (answer.cancel_instructions.length > 0) options.onCancel(answer.cancel_instructions);
    } catch (error) {
      if (signal.aborted) break;
      failures++;
      // One line per failure streak step, not per beat forever: 1, 2, 4, 8, … failures.
      if ((failures & (failures - 1)) === 0) {
        logger.warn("heartbeat failed", { error: errorMessage(error), failures, last_success: since(lastSuccess) });
      }
    }
    await sleep(options.intervalMs(), signal);
  }
}

/** One heartbeat; the offline one at shutdown goes through here too. */
export async function beat(options: Omit<HeartbeatOptions, "signal" | "onCancel" | "intervalMs" | "logger">, status: "online" | "offline", signal?: AbortSignal) {
  return options.api.heartbeat(
    {
      timestamp: new Date().toISOString(),
      status,
      uptime_seconds: Math.round((Date.now() - options.startedAt) / 1000),
      version: options.version,
      running_instructions: options.running(),
      plugins: await options.plugins(),
    },
    signal,
  );
}
