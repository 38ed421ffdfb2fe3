/**
 * What happens to one instruction: checked for expiry, matched to an installed plugin, run, and its
 * result reported until the orchestrator acknowledges it. Returns the instruction the result's
 * answer chained, if any.
 */
import type { RuntimeContext } from "../core/agent/index.ts";
import { backoff, sleep } from "../core/agent/index.ts";
import { errorMessage } from "../core/errors.ts";
import type { Instruction, ResultRequest } from "../core/protocol/index.ts";

/** Installed action plugins by id. Empty until the plugin host exists (issue 4). */
export type PluginLookup = (pluginId: string) => undefined;

export async function handleInstruction(
  instruction: Instruction,
  context: RuntimeContext,
  findPlugin: PluginLookup,
): Promise<Instruction | undefined> {
  const logger = context.logger.child("instruction");
  const fields = { instruction_id: instruction.id, plugin_id: instruction.plugin_id, type: instruction.instruction_type };
  logger.info("instruction received", fields);
  const result = decide(instruction, findPlugin);
  logger.info(`instruction ${result.status}`, { ...fields, error: result.error_message });
  return reportResult(instruction.id, result, context);
}

function decide(instruction: Instruction, findPlugin: PluginLookup): ResultRequest {
  if (instruction.expires_at && Date.parse(instruction.expires_at) <= Date.now()) {
    return failed(`instruction expired at ${instruction.expires_at} before it could start`, { reason: "expired", expires_at: instruction.expires_at });
  }
  if (instruction.instruction_type !== "execute") {
    return failed(`${instruction.instruction_type} is not supported by this agent version`, { reason: "unsupported_instruction_type" });
  }
  if (!findPlugin(instruction.plugin_id)) {
    return failed(`plugin "${instruction.plugin_id}" is not installed on this agent`, { reason: "plugin_not_installed", plugin_id: instruction.plugin_id });
  }
  return failed("no plugin can run yet", { reason: "plugin_not_installed" });
}

function failed(message: string, details: Record<string, unknown>): ResultRequest {
  return { status: "failed", error_message: message, error_details: details };
}

/**
 * Sends the result until acknowledged. The client already retries a keyed POST a few times; this
 * outer loop rides out longer outages, and gives up only when the agent is made to stop at once.
 */
async function reportResult(id: string, result: ResultRequest, context: RuntimeContext): Promise<Instruction | undefined> {
  for (let attempt = 0; ; attempt++) {
    try {
      const answer = await context.api.result(id, result, context.abort);
      return answer.next_instruction ?? undefined;
    } catch (error) {
      if (context.abort.aborted) {
        context.logger.error("result not delivered before shutdown", { instruction_id: id, error: errorMessage(error) });
        return undefined;
      }
      const waitMs = Math.max(backoff(attempt, 1_000, 60_000), 250);
      context.logger.warn("result not delivered; retrying", { instruction_id: id, error: errorMessage(error), retry_in_ms: waitMs });
      await sleep(waitMs, context.abort);
    }
  }
}
