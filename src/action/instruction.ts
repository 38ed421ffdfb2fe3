/**
 * What happens to one instruction: checked for expiry, run by its plugin under the supervisor's
 * time limit, and its result reported until the orchestrator acknowledges it. Returns the
 * instruction the result's answer chained, if any.
 */
import type { RuntimeContext } from "../core/agent/index.ts";
import { backoff, sleep } from "../core/agent/index.ts";
import { errorMessage } from "../core/errors.ts";
import { PluginError } from "../core/plugin/errors.ts";
import type { PluginHost } from "../core/plugin/host.ts";
import { applyPluginInstruction } from "../core/plugin/manage.ts";
import type { ActionRequest } from "../core/plugin/types.ts";
import type { Instruction, ResultRequest } from "../core/protocol/index.ts";

/** Log lines kept for the result; the newest win. */
const MAX_LOG_LINES = 500;

export interface InstructionRun {
  instruction: Instruction;
  /** Aborts when the orchestrator cancels the instruction. */
  cancel: AbortSignal;
}

export async function handleInstruction(
  run: InstructionRun,
  context: RuntimeContext,
  plugins: PluginHost,
): Promise<Instruction | undefined> {
  const { instruction } = run;
  const logger = context.logger.child("instruction");
  const fields = { instruction_id: instruction.id, plugin_id: instruction.plugin_id, type: instruction.instruction_type };
  logger.info("instruction received", fields);
  const result = await outcome(run, context, plugins);
  logger.info(`instruction ${result.status}`, { ...fields, error: result.error_message });
  return reportResult(instruction.id, result, context);
}

async function outcome(run: InstructionRun, context: RuntimeContext, plugins: PluginHost): Promise<ResultRequest> {
  const { instruction } = run;
  if (instruction.expires_at && Date.parse(instruction.expires_at) <= Date.now()) {
    return failed(`instruction expired at ${instruction.expires_at} before it could start`, { reason: "expired", expires_at: instruction.expires_at });
  }
  if (instruction.instruction_type !== "execute") {
    return applyPluginInstruction(instruction, { host: plugins, pluginsDir: context.config().plugins.directory, logger: context.logger });
  }
  const log: string[] = [];
  try {
    const plugin = await plugins.instance(instruction.plugin_id, { kind: "action" });
    await markExecuting(instruction.id, context);
    const result = await plugin.execute(actionRequest(instruction), {
      timeoutMs: instruction.timeout_seconds > 0 ? instruction.timeout_seconds * 1000 : undefined,
      signal: run.cancel,
      onLog: (line) => {
        log.push(line);
        if (log.length > MAX_LOG_LINES) log.shift();
      },
    });
    // Whatever a cancelled plugin returns on its way out, the instruction was cancelled.
    if (run.cancel.aborted) return { status: "cancelled", error_message: "cancelled by the orchestrator", result: result.data, execution_log: log };
    if (result.status === "completed") return { status: "completed", result: result.data ?? {}, execution_log: log };
    return { ...failed(result.error?.message ?? "the plugin reported failure", { reason: "plugin_failed", ...result.error }), execution_log: log };
  } catch (error) {
    if (error instanceof PluginError) {
      const details = { reason: REASONS[error.code] ?? error.code, code: error.code, retryable: error.retryable, plugin_id: instruction.plugin_id };
      const status = error.code === "timeout" ? "timeout" : error.code === "cancelled" ? "cancelled" : "failed";
      return { status, error_message: error.message, error_details: details, execution_log: log };
    }
    return { ...failed(errorMessage(error), { reason: "agent_error" }), execution_log: log };
  }
}

/** Error codes as reasons the orchestrator's users already know. */
const REASONS: Record<string, string> = { not_installed: "plugin_not_installed" };

function actionRequest(instruction: Instruction): ActionRequest {
  return {
    id: instruction.id,
    type: instruction.instruction_type,
    parameters: { ...instruction.plugin_configuration, ...instruction.input_data },
    context: instruction.context ?? {},
    variables: instruction.variables ?? {},
    timeout: instruction.timeout_seconds,
    metadata: { correlation_id: instruction.correlation_id, priority: instruction.priority, retry_count: instruction.retry_count },
  };
}

/** `executing` is informative: the run goes on if the orchestrator cannot be told. */
async function markExecuting(id: string, context: RuntimeContext): Promise<void> {
  try {
    await context.api.update(id, { status: "executing" }, context.abort);
  } catch (error) {
    context.logger.warn("could not mark the instruction executing", { instruction_id: id, error: errorMessage(error) });
  }
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
