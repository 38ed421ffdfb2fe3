/**
 * The action agent's runtime: `action.max_concurrent_tasks` slots, each long-polling for an
 * instruction and taking the one a result's answer chains without polling in between.
 */
import { createPoller, type AgentRuntime, type RuntimeContext } from "../core/agent/index.ts";
import { createPluginHost, type PluginHost } from "../core/plugin/host.ts";
import { cleanStaging } from "../core/plugin/install/index.ts";
import { watchPlugins } from "../core/plugin/watch.ts";
import { handleInstruction } from "./instruction.ts";

/** How long the orchestrator may hold one poll open. */
const LONG_POLL_SECONDS = 30;
/** How often plugin files are checked for changes when plugins.watch_changes is on. */
const WATCH_INTERVAL_MS = 2_000;

export function createActionRuntime(): AgentRuntime {
  /** Instructions in flight, with the controller that cancels each. */
  const inFlight = new Map<string, AbortController>();
  let plugins: PluginHost | undefined;
  let current: RuntimeContext | undefined;

  async function slot(context: RuntimeContext, poller: ReturnType<typeof createPoller>, host: PluginHost) {
    while (!context.stop.aborted) {
      let instruction = await poller.nextInstruction();
      while (instruction) {
        const id = instruction.id;
        const cancel = new AbortController();
        // The agent's forced stop cancels whatever still runs.
        const forward = () => cancel.abort();
        context.abort.addEventListener("abort", forward, { once: true });
        inFlight.set(id, cancel);
        try {
          const next = await handleInstruction({ instruction, cancel: cancel.signal }, context, host);
          // A chained instruction arriving while we stop is left to the orchestrator's lease.
          instruction = context.stop.aborted ? undefined : next;
        } finally {
          inFlight.delete(id);
          context.abort.removeEventListener("abort", forward);
        }
      }
    }
  }

  return {
    async run(context) {
      current = context;
      // Left by an install the agent did not finish; only the agent holding the home may clear it.
      await cleanStaging(context.config().plugins.directory);
      const host = await createPluginHost({ config: context.config(), home: context.home, logger: context.logger });
      plugins = host;
      const poller = createPoller({
        api: context.api,
        logger: context.logger.child("poll"),
        waitSeconds: LONG_POLL_SECONDS,
        intervalMs: () => context.config().agent.poll_interval,
        errorBackoffMs: context.config().api.retry_delay,
        signal: context.stop,
      });
      const slots = context.config().action.max_concurrent_tasks;
      context.logger.info(`taking instructions in ${slots} slot${slots === 1 ? "" : "s"}`, { plugins: host.list().map((entry) => entry.manifest.id) });
      const watching = context.config().plugins.watch_changes
        ? watchPlugins({ host, logger: context.logger.child("plugins"), intervalMs: WATCH_INTERVAL_MS, signal: context.stop })
        : Promise.resolve();
      try {
        await Promise.all([...Array.from({ length: slots }, () => slot(context, poller, host)), watching]);
      } finally {
        await host.stopAll();
      }
    },
    running: () => [...inFlight.keys()],
    cancel(ids) {
      for (const id of ids) {
        const controller = inFlight.get(id);
        if (!controller) continue;
        current?.logger.info("cancelling instruction", { instruction_id: id });
        controller.abort();
      }
    },
    plugins: async () => (plugins ? plugins.summary() : {}),
  };
}
