/**
 * The action agent's runtime: `action.max_concurrent_tasks` slots, each long-polling for an
 * instruction and taking the one a result's answer chains without polling in between. The journal
 * makes each instruction's effect happen once; what it recovers at boot runs before new work.
 */
import { join } from "node:path";
import { createPoller, type AgentRuntime, type RuntimeContext } from "../core/agent/index.ts";
import type { AuditLog } from "../core/audit/index.ts";
import { createPluginHost, type PluginHost } from "../core/plugin/host.ts";
import { cleanStaging } from "../core/plugin/install/index.ts";
import { watchPlugins } from "../core/plugin/watch.ts";
import type { Instruction } from "../core/protocol/index.ts";
import { errorMessage } from "../core/errors.ts";
import { openJournal, type Journal } from "../core/spool/index.ts";
import { handleInstruction } from "./instruction.ts";
import { flushOutbox, recoverInterrupted } from "./recovery.ts";

/** How long the orchestrator may hold one poll open. */
const LONG_POLL_SECONDS = 30;
/** How often plugin files are checked for changes when plugins.watch_changes is on. */
const WATCH_INTERVAL_MS = 2_000;
const PRUNE_INTERVAL_MS = 60 * 60_000;

export interface ActionRuntimeOptions {
  /** Records instructions and plugin changes (nowhere by default); the caller opens and closes it. */
  audit?: AuditLog;
}

export function createActionRuntime(options: ActionRuntimeOptions = {}): AgentRuntime {
  // Given by the agent's lifecycle (context.audit) unless a caller passes its own.
  let audit = options.audit;
  let loaded = false;
  /** Instructions in flight, with the controller that cancels each. */
  const inFlight = new Map<string, AbortController>();
  let plugins: PluginHost | undefined;
  let current: RuntimeContext | undefined;
  /** Why the last journal write failed (disk full, read-only); cleared by the next one that succeeds. */
  let journalFailure: string | undefined;
  const onJournal = (problem: string | undefined) => {
    journalFailure = problem;
  };

  async function runOne(instruction: Instruction, context: RuntimeContext, host: PluginHost, journal: Journal, recovered = false) {
    const cancel = new AbortController();
    // The agent's forced stop cancels whatever still runs.
    const forward = () => cancel.abort();
    context.abort.addEventListener("abort", forward, { once: true });
    inFlight.set(instruction.id, cancel);
    try {
      const onCancelled = () => {
        context.logger.info("the orchestrator says the instruction was cancelled", { instruction_id: instruction.id });
        cancel.abort();
      };
      return await handleInstruction({ instruction, cancel: cancel.signal, recovered, onCancelled }, { context, plugins: host, journal, audit, onJournal });
    } finally {
      inFlight.delete(instruction.id);
      context.abort.removeEventListener("abort", forward);
    }
  }

  async function slot(context: RuntimeContext, next: () => Promise<{ instruction: Instruction; recovered: boolean } | undefined>, host: PluginHost, journal: Journal) {
    while (!context.stop.aborted) {
      const taken = await next();
      let instruction = taken?.instruction;
      let recovered = taken?.recovered ?? false;
      while (instruction) {
        const chained = await runOne(instruction, context, host, journal, recovered);
        // A chained instruction arriving while we stop is left to the orchestrator's lease.
        instruction = context.stop.aborted ? undefined : chained;
        recovered = false;
      }
    }
  }

  return {
    async run(context) {
      current = context;
      const config = context.config();
      // Left by an install the agent did not finish; only the agent holding the home may clear it.
      await cleanStaging(config.plugins.directory);
      audit ??= context.audit;
      const host = await createPluginHost({ config, home: context.home, logger: context.logger, audit });
      plugins = host;
      const journal = openJournal(join(context.home.state, "journal.db"));
      loaded = true;
      prune(journal, context);
      const recovered = recoverInterrupted(journal, host, context);
      const outbox = flushOutbox(journal, context);
      const poller = createPoller({
        api: context.api,
        logger: context.logger.child("poll"),
        waitSeconds: LONG_POLL_SECONDS,
        intervalMs: () => context.config().agent.poll_interval,
        errorBackoffMs: config.api.retry_delay,
        signal: context.stop,
      });
      const next = async () => {
        const instruction = recovered.shift();
        if (instruction) return { instruction, recovered: true };
        const polled = await poller.nextInstruction();
        return polled && { instruction: polled, recovered: false };
      };
      const pruning = setInterval(() => prune(journal, context), PRUNE_INTERVAL_MS);
      const watching = config.plugins.watch_changes
        ? watchPlugins({ host, logger: context.logger.child("plugins"), intervalMs: WATCH_INTERVAL_MS, signal: context.stop })
        : Promise.resolve();
      const slots = config.action.max_concurrent_tasks;
      context.logger.info(`taking instructions in ${slots} slot${slots === 1 ? "" : "s"}`, { plugins: host.list().map((entry) => entry.manifest.id) });
      try {
        await Promise.all([...Array.from({ length: slots }, () => slot(context, next, host, journal)), watching, outbox]);
      } finally {
        clearInterval(pruning);
        await host.stopAll();
        journal.close();
      }
    },
    started: () => loaded,
    running: () => [...inFlight.keys()],
    cancel(ids) {
      for (const id of ids) {
        const controller = inFlight.get(id);
        if (!controller) continue;
        current?.logger.info("cancelling instruction", { instruction_id: id });
        controller.abort();
      }
    },
    problems: () => (journalFailure === undefined ? [] : [`instructions cannot be recorded: ${journalFailure}`]),
    plugins: async () => (plugins ? { ...(await plugins.summary()), rollbacks: plugins.rollbacks() } : {}),
  };
}

/** Housekeeping: a journal that cannot be written now (disk full) is pruned next time, not a crash. */
function prune(journal: Journal, context: RuntimeContext): void {
  try {
    journal.prune(context.config().action.journal_retention);
  } catch (error) {
    context.logger.warn("journal not pruned; trying again later", { error: errorMessage(error) });
  }
}
