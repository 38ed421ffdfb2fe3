/**
 * What happens to one instruction, exactly once: recorded in the journal, checked for expiry, run
 * by its plugin under the supervisor's time limit (retried when the plugin says the failure is
 * retryable or its process crashed), and its result kept in the outbox until the orchestrator
 * acknowledges it. Returns the instruction the result's answer chained, if any.
 */
import type { RuntimeContext } from "../core/agent/index.ts";
import type { AuditEvent, AuditLog } from "../core/audit/index.ts";
import { backoff, sleep } from "../core/agent/index.ts";
import { errorMessage } from "../core/errors.ts";
import { PluginError } from "../core/plugin/errors.ts";
import type { PluginHost } from "../core/plugin/host.ts";
import { applyPluginInstruction } from "../core/plugin/manage.ts";
import type { ActionRequest } from "../core/plugin/types.ts";
import type { Instruction, ResultRequest } from "../core/protocol/index.ts";
import type { Journal } from "../core/spool/index.ts";
import { createLogStream } from "./log-stream.ts";

/** Log lines the result carries at most; the newest win. */
const MAX_LOG_LINES = 500;
const RETRY_BASE_MS = 1_000;
const RETRY_CAP_MS = 30_000;
const JOURNAL_RETRY_BASE_MS = 250;
const JOURNAL_RETRY_CAP_MS = 5_000;

export interface InstructionRun {
  instruction: Instruction;
  /** Aborts when the orchestrator cancels the instruction. */
  cancel: AbortSignal;
  /** Recovered from the journal at boot: already recorded, run it anyway. */
  recovered?: boolean;
  /** The orchestrator answered an update saying the instruction was cancelled. */
  onCancelled?: () => void;
}

export interface InstructionDeps {
  context: RuntimeContext;
  plugins: PluginHost;
  journal: Journal;
  /**
   * Where instructions received, started and finished are recorded (nowhere by default). An
   * instruction whose receipt or start cannot be recorded is not run: it fails with reason audit_failed.
   */
  audit?: AuditLog;
  /** Told the error when a journal write fails (disk full, read-only), and undefined once one succeeds again. */
  onJournal?: (problem: string | undefined) => void;
}

export async function handleInstruction(run: InstructionRun, deps: InstructionDeps): Promise<Instruction | undefined> {
  const { instruction } = run;
  const { context, journal } = deps;
  const logger = context.logger.child("instruction");
  const fields = { instruction_id: instruction.id, plugin_id: instruction.plugin_id, type: instruction.instruction_type };
  const prior = run.recovered ? undefined : await journaled("receive", () => journal.receive(instruction), deps, fields);
  if (prior?.state === "finished" && prior.result) {
    logger.info("instruction delivered again after it finished; sending its result again", fields);
    return reportResult(instruction.id, prior.result, deps);
  }
  if (prior) {
    logger.info("instruction delivered again while it runs; the running one will report", fields);
    return undefined;
  }
  logger.info("instruction received", fields);
  const result = await outcome(run, deps);
  await journaled("finish", () => journal.finish(instruction.id, result), deps, fields);
  logger.info(`instruction ${result.status}`, { ...fields, error: result.error_message, retry_count: result.retry_count });
  const auditError = audited(deps, "instruction.finished", {
    ...fields,
    status: result.status,
    error: result.error_message,
    reason: result.error_details?.reason,
    retry_count: result.retry_count,
  });
  // Done is done: the result still goes to the orchestrator.
  if (auditError) logger.error("audit record not written", { ...fields, event: "instruction.finished", error: auditError });
  return reportResult(instruction.id, result, deps);
}

async function outcome(run: InstructionRun, deps: InstructionDeps): Promise<ResultRequest> {
  const { instruction } = run;
  const { context, plugins, journal } = deps;
  const fields = { instruction_id: instruction.id, plugin_id: instruction.plugin_id, type: instruction.instruction_type };
  const notReceived = audited(deps, "instruction.received", {
    ...fields,
    correlation_id: instruction.correlation_id,
    priority: instruction.priority,
    plugin_configuration: instruction.plugin_configuration,
    input_data: instruction.input_data,
    ...(run.recovered ? { recovered: true } : {}),
  });
  if (notReceived) return failed(`not run: ${notReceived}`, { reason: "audit_failed" });
  if (instruction.expires_at && Date.parse(instruction.expires_at) <= Date.now()) {
    return failed(`instruction expired at ${instruction.expires_at} before it could start`, { reason: "expired", expires_at: instruction.expires_at });
  }
  if (instruction.instruction_type !== "execute") {
    await journaled("start", () => journal.start(instruction.id), deps, fields);
    const notStarted = audited(deps, "instruction.started", fields);
    if (notStarted) return failed(`not run: ${notStarted}`, { reason: "audit_failed" });
    return applyPluginInstruction(instruction, { host: plugins, pluginsDir: context.config().plugins.directory, logger: context.logger, audit: deps.audit });
  }
  for (let attempt = instruction.retry_count; ; attempt++) {
    await journaled("start", () => journal.start(instruction.id), deps, fields);
    const notStarted = audited(deps, "instruction.started", { ...fields, attempt });
    if (notStarted) return { ...failed(`not run: ${notStarted}`, { reason: "audit_failed" }), retry_count: attempt };
    const result = { ...(await executeOnce(run, deps, attempt)), retry_count: attempt };
    if (!isRetryable(result) || attempt >= instruction.max_retries || run.cancel.aborted) return result;
    const waitMs = backoff(attempt, RETRY_BASE_MS, RETRY_CAP_MS);
    context.logger.info("retrying instruction", { instruction_id: instruction.id, attempt: attempt + 1, max_retries: instruction.max_retries, wait_ms: waitMs });
    await sleep(waitMs, run.cancel);
    if (run.cancel.aborted) return { status: "cancelled", error_message: "cancelled by the orchestrator", retry_count: attempt };
  }
}

async function executeOnce(run: InstructionRun, deps: InstructionDeps, attempt: number): Promise<ResultRequest> {
  const { context } = deps;
  const stream = createLogStream({ api: context.api, logger: context.logger, instructionId: run.instruction.id, signal: context.abort, onCancelled: run.onCancelled });
  // runPlugin turns every failure into a result, so the stream is always closed.
  const result = await runPlugin(run, deps, attempt, (line) => stream.push(line));
  // Lines already streamed went to the orchestrator; the result carries only the rest.
  const unsent = await stream.close();
  return { ...result, execution_log: unsent.slice(-MAX_LOG_LINES) };
}

async function runPlugin(run: InstructionRun, deps: InstructionDeps, attempt: number, onLog: (line: string) => void): Promise<ResultRequest> {
  const { instruction } = run;
  const { context, plugins } = deps;
  try {
    const plugin = await plugins.instance(instruction.plugin_id, { kind: "action" });
    await markExecuting(instruction.id, attempt, context, run.onCancelled);
    const result = await plugin.execute(actionRequest(instruction, attempt), {
      timeoutMs: instruction.timeout_seconds > 0 ? instruction.timeout_seconds * 1000 : undefined,
      signal: run.cancel,
      onLog,
    });
    // Whatever a cancelled plugin returns on its way out, the instruction was cancelled.
    if (run.cancel.aborted) return { status: "cancelled", error_message: "cancelled by the orchestrator", result: result.data };
    if (result.status === "completed") return { status: "completed", result: result.data ?? {} };
    const { details, ...error } = result.error ?? { message: "the plugin reported failure" };
    // A failed result keeps its data: a failed command's exit code and output matter most.
    return { ...failed(error.message, { reason: "plugin_failed", ...error, ...details }), ...(result.data ? { result: result.data } : {}) };
  } catch (error) {
    if (error instanceof PluginError) {
      const details = { reason: REASONS[error.code] ?? error.code, code: error.code, retryable: error.retryable, plugin_id: instruction.plugin_id };
      const status = error.code === "timeout" ? "timeout" : error.code === "cancelled" ? "cancelled" : "failed";
      return { status, error_message: error.message, error_details: details };
    }
    return failed(errorMessage(error), { reason: "agent_error" });
  }
}

/**
 * A journal write the instruction cannot go on without. While it fails (disk full, read-only) the
 * instruction waits, neither run nor dropped, and the write is retried with backoff; so an effect
 * never happens unrecorded, and a result is never lost. Throws only once the agent stops at once.
 */
async function journaled<T>(step: string, write: () => T, deps: InstructionDeps, fields: Record<string, unknown>): Promise<T> {
  const { context } = deps;
  for (let failures = 0; ; failures++) {
    try {
      const value = write();
      if (failures > 0) {
        context.logger.info("journal written again; the instruction goes on", { ...fields, step, failures });
        deps.onJournal?.(undefined);
      }
      return value;
    } catch (error) {
      if (context.abort.aborted) throw error;
      deps.onJournal?.(errorMessage(error));
      const waitMs = Math.max(backoff(failures, JOURNAL_RETRY_BASE_MS, JOURNAL_RETRY_CAP_MS), JOURNAL_RETRY_BASE_MS);
      if ((failures & (failures + 1)) === 0) {
        context.logger.error("journal write failed; the instruction waits until it can be recorded", { ...fields, step, error: errorMessage(error), failures: failures + 1, retry_in_ms: waitMs });
      }
      await sleep(waitMs, context.abort);
    }
  }
}

/** Records `event`; returns why it could not, if it could not. */
function audited(deps: InstructionDeps, event: AuditEvent, fields: Record<string, unknown>): string | undefined {
  try {
    deps.audit?.record(event, fields);
    return undefined;
  } catch (error) {
    return errorMessage(error);
  }
}

/** Retried: failures the plugin marks retryable, and crashes of its process. */
function isRetryable(result: ResultRequest): boolean {
  if (result.status !== "failed") return false;
  const details = result.error_details ?? {};
  return details.retryable === true || details.code === "crashed";
}

/** Error codes as reasons the orchestrator's users already know. */
const REASONS: Record<string, string> = { not_installed: "plugin_not_installed" };

function actionRequest(instruction: Instruction, attempt: number): ActionRequest {
  return {
    id: instruction.id,
    type: instruction.instruction_type,
    parameters: { ...instruction.plugin_configuration, ...instruction.input_data },
    context: instruction.context ?? {},
    variables: instruction.variables ?? {},
    timeout: instruction.timeout_seconds,
    metadata: { correlation_id: instruction.correlation_id, priority: instruction.priority, retry_count: attempt },
  };
}

/** `executing` is informative: the run goes on if the orchestrator cannot be told. */
async function markExecuting(id: string, attempt: number, context: RuntimeContext, onCancelled?: () => void): Promise<void> {
  try {
    const answer = await context.api.update(id, { status: "executing", ...(attempt > 0 ? { retry_count: attempt } : {}) }, context.abort);
    if (answer.cancelled) onCancelled?.();
  } catch (error) {
    context.logger.warn("could not mark the instruction executing", { instruction_id: id, error: errorMessage(error) });
  }
}

export function failed(message: string, details: Record<string, unknown>): ResultRequest {
  return { status: "failed", error_message: message, error_details: details };
}

/**
 * Sends a result until acknowledged, then marks it so in the journal. The client already retries
 * a keyed POST a few times; this loop rides out longer outages. Stopped at once, the result stays
 * in the outbox and is sent after the restart.
 */
export async function reportResult(id: string, result: ResultRequest, deps: Pick<InstructionDeps, "context" | "journal">): Promise<Instruction | undefined> {
  const { context, journal } = deps;
  for (let attempt = 0; ; attempt++) {
    try {
      const answer = await context.api.result(id, result, context.abort);
      journal.acknowledge(id);
      return answer.next_instruction ?? undefined;
    } catch (error) {
      if (context.abort.aborted) {
        context.logger.warn("result kept in the outbox; it is sent after the restart", { instruction_id: id, error: errorMessage(error) });
        return undefined;
      }
      const waitMs = Math.max(backoff(attempt, 1_000, 60_000), 250);
      context.logger.warn("result not delivered; retrying", { instruction_id: id, error: errorMessage(error), retry_in_ms: waitMs });
      await sleep(waitMs, context.abort);
    }
  }
}
