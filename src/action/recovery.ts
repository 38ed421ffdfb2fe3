/**
 * What the journal says at boot. Instructions the agent was running when it died are reported
 * `failed` with reason `agent_restarted`, unless their plugin declares itself idempotent, in
 * which case they run again; ones received but never started simply run. Results still in the
 * outbox are sent again.
 */
import type { RuntimeContext } from "../core/agent/index.ts";
import type { PluginHost } from "../core/plugin/host.ts";
import type { Instruction } from "../core/protocol/index.ts";
import type { Journal } from "../core/spool/index.ts";
import { failed, reportResult } from "./instruction.ts";

/** Returns the instructions to run again, in the order they were received. */
export function recoverInterrupted(journal: Journal, plugins: PluginHost, context: RuntimeContext): Instruction[] {
  const rerun: Instruction[] = [];
  for (const entry of journal.interrupted()) {
    const { instruction } = entry;
    const idempotent = plugins.has(instruction.plugin_id) && plugins.manifest(instruction.plugin_id).idempotent;
    if (entry.state === "received" || (idempotent && instruction.instruction_type === "execute")) {
      context.logger.info("running again an instruction the agent stopped under", { instruction_id: instruction.id, state: entry.state, idempotent });
      rerun.push(instruction);
      continue;
    }
    context.logger.warn("instruction cut off by an agent restart; reporting it failed", { instruction_id: instruction.id, plugin_id: instruction.plugin_id });
    journal.finish(
      instruction.id,
      failed("the agent restarted while the instruction was running; it was not run again because its plugin is not idempotent", {
        reason: "agent_restarted",
        plugin_id: instruction.plugin_id,
        attempts: entry.attempts,
      }),
    );
  }
  return rerun;
}

/** Sends every unacknowledged result again; resolves when the outbox is empty or the agent stops. */
export async function flushOutbox(journal: Journal, context: RuntimeContext): Promise<void> {
  const pending = journal.outbox();
  if (pending.length > 0) context.logger.info("sending results kept from before the restart", { count: pending.length });
  for (const entry of pending) {
    if (context.abort.aborted || !entry.result) return;
    // A chained instruction in the answer is left to the orchestrator's lease: it is delivered again.
    await reportResult(entry.id, entry.result, { context, journal });
  }
}
