/**
 * The action agent's runtime: `action.max_concurrent_tasks` slots, each long-polling for an
 * instruction and taking the one a result's answer chains without polling in between.
 */
import { createPoller, type AgentRuntime, type RuntimeContext } from "../core/agent/index.ts";
import { handleInstruction, type PluginLookup } from "./instruction.ts";

/** How long the orchestrator may hold one poll open. */
const LONG_POLL_SECONDS = 30;

export function createActionRuntime(findPlugin: PluginLookup = () => undefined): AgentRuntime {
  const inFlight = new Set<string>();
  let current: RuntimeContext | undefined;

  async function slot(context: RuntimeContext, poller: ReturnType<typeof createPoller>) {
    while (!context.stop.aborted) {
      let instruction = await poller.nextInstruction();
      while (instruction) {
        const id = instruction.id;
        inFlight.add(id);
        try {
          const next = await handleInstruction(instruction, context, findPlugin);
          // A chained instruction arriving while we stop is left to the orchestrator's lease.
          instruction = context.stop.aborted ? undefined : next;
        } finally {
          inFlight.delete(id);
        }
      }
    }
  }

  return {
    async run(context) {
      current = context;
      const poller = createPoller({
        api: context.api,
        logger: context.logger.child("poll"),
        waitSeconds: LONG_POLL_SECONDS,
        intervalMs: () => context.config().agent.poll_interval,
        errorBackoffMs: context.config().api.retry_delay,
        signal: context.stop,
      });
      const slots = context.config().action.max_concurrent_tasks;
      context.logger.info(`taking instructions in ${slots} slot${slots === 1 ? "" : "s"}`);
      await Promise.all(Array.from({ length: slots }, () => slot(context, poller)));
    },
    running: () => [...inFlight],
    cancel(ids) {
      // Until plugins run (issue 4), an instruction ends as soon as it is received: nothing to stop.
      const known = ids.filter((id) => inFlight.has(id));
      current?.logger.info("cancellation received", { instruction_ids: ids, in_flight: known });
    },
  };
}
