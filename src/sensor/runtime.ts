/**
 * The sensor agent's runtime: the configured triggers (plus installed trigger plugins when
 * `plugins.auto_load`), every event spooled before anything else happens to it, delivery in
 * batches, and the instruction poll for plugin_install / plugin_update / plugin_uninstall.
 */
import { join } from "node:path";
import { createPoller, type AgentRuntime, type RuntimeContext } from "../core/agent/index.ts";
import { errorMessage } from "../core/errors.ts";
import { createPluginHost, type PluginHost } from "../core/plugin/host.ts";
import { cleanStaging } from "../core/plugin/install/index.ts";
import { applyPluginInstruction } from "../core/plugin/manage.ts";
import type { DetectedEvent } from "../core/plugin/types.ts";
import type { Instruction, ResultRequest } from "../core/protocol/index.ts";
import { openEventSpool, type EventSpool } from "../core/spool/index.ts";
import { backoff, sleep } from "../core/timing.ts";
import { createDelivery } from "./deliver.ts";
import { createCooldowns, toTriggerEvent, type Trigger } from "./events.ts";
import { createOutputs, type Outputs } from "./outputs.ts";
import { createRefusals } from "./refusals.ts";
import { runTriggers } from "./schedule.ts";

const LONG_POLL_SECONDS = 30;
/** Drops are logged at most this often (each line says how many since the last). */
const DROP_LOG_INTERVAL_MS = 60_000;
const DRAIN_MS = 5_000;

type Refusals = ReturnType<typeof createRefusals>;

export function createSensorRuntime(): AgentRuntime {
  let plugins: PluginHost | undefined;
  let spool: EventSpool | undefined;
  let outputs: Outputs | undefined;
  const counts = { detected: 0, suppressed: 0, dropped: 0 };
  let loaded = false;
  let refusals: Refusals | undefined;

  return {
    async run(context) {
      const config = context.config();
      await cleanStaging(config.plugins.directory);
      const host = await createPluginHost({ config, home: context.home, logger: context.logger, audit: context.audit });
      plugins = host;
      const events = openEventSpool(join(context.home.state, "events.db"), {
        maxEvents: config.sensor.event_buffer_size,
        maxBytes: config.sensor.event_buffer_bytes,
        overflow: config.sensor.overflow,
      });
      spool = events;
      const pending = events.depth().events;
      if (pending > 0) context.logger.info("events spooled before the restart will be delivered", { count: pending });
      const delivery = createDelivery({
        spool: events,
        api: context.api,
        logger: context.logger.child("delivery"),
        batchSize: () => context.config().sensor.batch_size,
        flushIntervalMs: () => context.config().sensor.flush_interval,
        retryBaseMs: config.api.retry_delay,
        signal: context.stop,
      });
      const fanOut = createOutputs({
        outputs: config.sensor.outputs,
        host,
        logger: context.logger.child("outputs"),
        batchSize: () => context.config().sensor.batch_size,
        signal: context.stop,
      });
      outputs = fanOut;
      const cooldowns = createCooldowns();
      let droppedSinceLog = 0;
      let lastDropLog = 0;
      const refused = createRefusals(context.logger, DROP_LOG_INTERVAL_MS);
      refusals = refused;
      const onEvents = (trigger: Trigger, detected: DetectedEvent[]) => {
        counts.detected += detected.length;
        const { admitted, suppressed } = cooldowns.admit(trigger, detected);
        counts.suppressed += suppressed;
        if (admitted.length === 0) return;
        const ready = admitted.map((event) => toTriggerEvent(event, trigger, config.agent.id));
        try {
          const { dropped } = events.append(ready);
          refused.accepted();
          if (dropped > 0) {
            counts.dropped += dropped;
            droppedSinceLog += dropped;
            if (Date.now() - lastDropLog > DROP_LOG_INTERVAL_MS) {
              context.logger.warn("event spool full: events dropped", { dropped: droppedSinceLog, policy: config.sensor.overflow, depth: events.depth() });
              droppedSinceLog = 0;
              lastDropLog = Date.now();
            }
          }
        } catch (error) {
          // A spool that cannot be written (disk full, read-only) refuses the events: counted, on
          // /ready, logged; the sensor keeps running. Nothing unspooled goes to the outputs either.
          refused.refused(trigger.id, admitted.length, error);
          return;
        }
        delivery.wake();
        fanOut.push(ready);
      };
      const triggers = [...config.sensor.triggers, ...autoLoaded(host, config.sensor.triggers, context)];
      loaded = true;
      context.logger.info(`running ${triggers.filter((trigger) => trigger.enabled).length} triggers`, { triggers: triggers.map((trigger) => trigger.id) });
      try {
        await Promise.all([
          runTriggers({ triggers, host, logger: context.logger.child("triggers"), maxConcurrent: config.sensor.max_concurrent_triggers, timeoutMs: config.sensor.trigger_timeout, onEvents, signal: context.stop }),
          delivery.run(),
          fanOut.run(),
          instructions(context, host),
        ]);
      } finally {
        await delivery.drain(Math.min(DRAIN_MS, config.agent.shutdown_grace));
        await host.stopAll();
        events.close();
        spool = undefined;
      }
    },
    started: () => loaded,
    running: () => [],
    cancel: () => {},
    problems: () => refusals?.problems() ?? [],
    plugins: async () => ({
      ...(plugins ? await plugins.summary() : {}),
      events: { ...counts, refused: refusals?.total() ?? 0, spool: spool?.depth(), ...spool?.counters() },
      outputs: outputs?.stats() ?? {},
    }),
  };
}

/** Installed trigger plugins not named in sensor.triggers, run with their local config. */
function autoLoaded(host: PluginHost, configured: readonly Trigger[], context: RuntimeContext): Trigger[] {
  const config = context.config();
  if (!config.plugins.auto_load) return [];
  const named = new Set(configured.map((trigger) => trigger.plugin));
  return host
    .list()
    .filter((entry) => entry.source !== "builtin" && entry.manifest.type === "trigger" && !named.has(entry.manifest.id))
    .map((entry) => ({
      plugin: entry.manifest.id,
      id: entry.manifest.id,
      interval: config.sensor.trigger_check_interval,
      config: {},
      severity: "medium" as const,
      cooldown: 0,
      enabled: true,
    }));
}

/**
 * The sensor takes plugin management instructions only; it runs no actions. An instruction chained on
 * a result's acknowledgement is already delivered to this agent: it runs next, before any poll, or it
 * would wait out its lease at the orchestrator.
 */
export async function instructions(context: RuntimeContext, host: PluginHost): Promise<void> {
  const poller = createPoller({
    api: context.api,
    logger: context.logger.child("poll"),
    waitSeconds: LONG_POLL_SECONDS,
    intervalMs: () => context.config().agent.poll_interval,
    errorBackoffMs: context.config().api.retry_delay,
    signal: context.stop,
  });
  for (let instruction = await poller.nextInstruction(); instruction; ) {
    const result: ResultRequest =
      instruction.instruction_type === "execute"
        ? { status: "failed", error_message: "a sensor agent runs no actions; send execute instructions to an action agent", error_details: { reason: "unsupported_instruction_type" } }
        : await applyPluginInstruction(instruction, { host, pluginsDir: context.config().plugins.directory, logger: context.logger });
    const chained = await report(instruction, result, context);
    // One chained while we stop is left to the orchestrator's lease, as the action agent does.
    instruction = context.stop.aborted ? undefined : (chained ?? (await poller.nextInstruction()));
  }
}

/** Sends the result until acknowledged; returns the instruction the acknowledgement chained, if any. */
async function report(instruction: Instruction, result: ResultRequest, context: RuntimeContext): Promise<Instruction | undefined> {
  for (let attempt = 0; !context.abort.aborted; attempt++) {
    try {
      const answer = await context.api.result(instruction.id, result, context.abort);
      return answer.next_instruction ?? undefined;
    } catch (error) {
      const waitMs = Math.max(backoff(attempt, 1_000, 60_000), 250);
      context.logger.warn("result not delivered; retrying", { instruction_id: instruction.id, error: errorMessage(error), retry_in_ms: waitMs });
      await sleep(waitMs, context.abort);
    }
  }
  return undefined;
}
