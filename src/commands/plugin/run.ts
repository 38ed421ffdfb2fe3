/**
 * `stavily plugin run <dir|id>`: one plugin on this machine, like `telegraf --test`. A trigger prints
 * each event as one JSON line on stdout (once, or every --interval until Ctrl-C; pushed events of a
 * `watch` trigger as they come); an action prints its log lines on stderr as they come and its
 * result as JSON on stdout (exit 0 completed, 1 failed); an output sends --input as one batch.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseDuration } from "../../core/config/index.ts";
import { EXIT, usageError } from "../../core/errors.ts";
import { PluginError } from "../../core/plugin/errors.ts";
import { supervisePlugin, type SupervisedPlugin } from "../../core/plugin/supervisor.ts";
import type { ActionRequest, ActionResult, DetectedEvent } from "../../core/plugin/types.ts";
import { sleep } from "../../core/timing.ts";
import type { ConfigFlags } from "../config.ts";
import { findPlugin, loadAgentConfig, looksLikePath, parseJsonObject, splitConfigFlag } from "./_common.ts";
import { prepareLocal } from "./_local.ts";

export interface RunFlags extends ConfigFlags {
  input?: string;
  once?: boolean;
  interval?: string | number;
  timeout?: string | number;
}

export interface RunRuntime {
  /** Stops a running trigger like Ctrl-C does (tests). */
  signal?: AbortSignal;
}

export async function runCommand(target: string, flags: RunFlags, runtime: RunRuntime = {}): Promise<number> {
  if (!target) throw usageError("cli", "missing the plugin: a directory or an id");
  const { file, json } = splitConfigFlag(flags);
  const pluginConfig = parseJsonObject(json, "--config");
  const timeoutMs = durationFlag(flags.timeout, "--timeout", "30s");
  const intervalMs = durationFlag(flags.interval, "--interval", "10s");
  // The agent type only names ctx.agent.type and the default agent id; a trigger folder runs as a sensor would.
  const peek = looksLikePath(target) ? await findPlugin(target, "") : undefined;
  const { config } = loadAgentConfig({ ...flags, config: file }, peek?.manifest.type === "trigger" ? "sensor" : "action");
  const { manifest } = peek ?? (await findPlugin(target, config.plugins.directory));
  const parameters = manifest.type === "action" ? (parseJsonObject(flags.input, "--input") ?? {}) : {};
  const batch = manifest.type === "output" ? parseBatch(flags.input) : [];
  const local = await prepareLocal(manifest, { config, pluginConfig, agentHome: file !== undefined, bundle: peek !== undefined });
  // A stdio plugin's stderr goes to its log file; a trigger's lines are shown from there (an action's come through onLog).
  const tail = manifest.runtime.type !== "bun" && manifest.type !== "action" ? logTail(local.launch.logFile) : () => {};
  const printEvent = (event: DetectedEvent) => {
    tail();
    process.stdout.write(`${JSON.stringify(event)}\n`);
  };
  const supervised = supervisePlugin({
    launch: local.launch,
    factory: local.factory,
    logger: local.logger.child("stavily"),
    controlTimeoutMs: config.plugins.timeout,
    defaultCallTimeoutMs: timeoutMs,
    graceMs: config.action.cancel_grace_period,
    onEvent: printEvent,
  });
  const stop = stopSignal(runtime.signal);
  try {
    await supervised.start().catch((error) => {
      throw error instanceof PluginError && error.code === "invalid_config" ? usageError("plugin", error.message, { cause: error, details: error.details }) : error;
    });
    if (manifest.type === "trigger") {
      return await runTrigger(supervised, { once: flags.once ?? false, intervalMs, timeoutMs, stop: stop.signal, print: printEvent, tail });
    }
    if (manifest.type === "action") return await runAction(supervised, manifest.id, parameters, { timeoutMs, stop: stop.signal });
    return await runOutput(supervised, batch, timeoutMs, stop.signal);
  } finally {
    stop.dispose();
    await supervised.stop();
    tail();
    await local.cleanup();
  }
}

interface TriggerRun {
  once: boolean;
  intervalMs: number;
  timeoutMs: number;
  stop: AbortSignal;
  print: (event: DetectedEvent) => void;
  /** Shows the plugin's log lines written since the last call. */
  tail: () => void;
}

/** Detects once, or every interval until stopped; a failed run is reported and the next one goes on. */
async function runTrigger(supervised: SupervisedPlugin, run: TriggerRun): Promise<number> {
  while (!run.stop.aborted) {
    try {
      const events = await supervised.detect({ timeoutMs: run.timeoutMs, signal: run.stop });
      run.tail();
      for (const event of events) run.print(event);
    } catch (error) {
      run.tail();
      if (run.stop.aborted) break;
      if (run.once) throw error;
      process.stderr.write(`detect failed: ${(error as Error).message}\n`);
    }
    if (run.once) return EXIT.ok;
    await sleep(run.intervalMs, run.stop);
  }
  return EXIT.ok;
}

async function runAction(supervised: SupervisedPlugin, id: string, parameters: Record<string, unknown>, run: { timeoutMs: number; stop: AbortSignal }): Promise<number> {
  const request: ActionRequest = {
    id: `run-${randomUUID()}`,
    type: id,
    parameters,
    context: {},
    variables: {},
    timeout: Math.ceil(run.timeoutMs / 1000),
    metadata: { source: "stavily plugin run" },
  };
  // Bun plugins' lines reach stderr through the local logger already; stdio plugins' through onLog.
  const onLog = supervised.launch.runtime === "bun" ? undefined : (line: string) => process.stderr.write(`${line}\n`);
  let result: ActionResult;
  try {
    result = await supervised.execute(request, { timeoutMs: run.timeoutMs, signal: run.stop, onLog });
  } catch (error) {
    if (!(error instanceof PluginError)) throw error;
    result = { status: "failed", error: error.toInfo() };
  }
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return result.status === "completed" ? EXIT.ok : EXIT.failure;
}

/** An output's --input: a JSON list is the batch, anything else a batch of one. */
function parseBatch(input: string | undefined): unknown[] {
  if (input === undefined) return [];
  try {
    const value: unknown = JSON.parse(String(input));
    return Array.isArray(value) ? value : [value];
  } catch (error) {
    throw usageError("cli", `--input: not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

async function runOutput(supervised: SupervisedPlugin, batch: unknown[], timeoutMs: number, stop: AbortSignal): Promise<number> {
  await supervised.send(batch, { timeoutMs, signal: stop });
  process.stdout.write(`${JSON.stringify({ status: "sent", count: batch.length })}\n`);
  return EXIT.ok;
}

/** Copies what was appended to `file` since the last call to stderr. */
function logTail(file: string): () => void {
  let offset = 0;
  return () => {
    let text: Buffer;
    try {
      text = readFileSync(file);
    } catch {
      return; // not written yet
    }
    const end = text.lastIndexOf(10) + 1;
    if (end <= offset) return;
    process.stderr.write(text.subarray(offset, end));
    offset = end;
  };
}

function durationFlag(value: string | number | undefined, flag: string, fallback: string): number {
  // cac turns a bare number into a number: seconds, as in the manifests.
  const ms = parseDuration(value ?? fallback);
  if (ms === undefined || ms <= 0) throw usageError("cli", `${flag}: expected a duration above 0 like 10s or 500ms, got "${value}"`);
  return ms;
}

/** Ctrl-C and SIGTERM (and the test's signal) stop the run; dispose() removes the handlers. */
function stopSignal(external?: AbortSignal) {
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error("interrupted"));
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  external?.addEventListener("abort", onSignal, { once: true });
  return {
    signal: controller.signal,
    dispose() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      external?.removeEventListener("abort", onSignal);
    },
  };
}
