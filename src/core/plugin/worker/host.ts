/**
 * `PluginInstance` for runtime `bun`: the plugin runs in a Bun Worker of this process. A worker is
 * a thread, not a process: it can be terminated (even in a busy loop) but shares the process's
 * memory and has no heap cap of its own. Isolation beyond that is the sandbox's job.
 */
import type { Logger, LogLevel } from "../../log/index.ts";
import { PluginError } from "../errors.ts";
import type { ActionRequest, CallOptions, DetectedEvent, IdentifiedEvent, PluginExit, PluginInstance, PluginLaunch } from "../types.ts";
import { FLOOD_DEFAULTS, type FloodLimits } from "./_flood.ts";
import { workerEntryUrl } from "./_entry-url.ts";
import { createPluginLog, type PluginLog } from "./_plugin-log.ts";
import type { CallMethod, RunArgs, StartArgs } from "./_protocol.ts";
import { acceptActionOutput, acceptEvent, acceptEvents, acceptHealth, acceptNothing, parseWorkerMessage } from "./_validate.ts";
import { createRpc, type CallSpec } from "./rpc.ts";
import { killExecGroups } from "./context/_exec.ts";

export interface WorkerHostOptions {
  /** Where plugin log lines go; default a JSON log file at launch.logFile. */
  logger?: Logger;
  /** Lowest plugin log level written. */
  logLevel: LogLevel;
  /** Log flood control per instance. */
  flood: FloodLimits;
  /** Events one `detect` may return; more is invalid output. */
  maxEvents: number;
  /** JavaScriptCore's small heap: a slower worker that grows its heap more reluctantly (not a cap). */
  smol: boolean;
  /**
   * How often a worker with launch.limits.memory reports its JS heap. The limit is soft: Bun has no
   * per-worker heap cap (resourceLimits is ignored), so the host terminates a worker seen over it.
   */
  heapReportMs: number;
  /** The worker entry module; default the one beside this file, or the one embedded in the binary. */
  entryUrl?: string;
}

export const WORKER_HOST_DEFAULTS: WorkerHostOptions = { logLevel: "info", flood: FLOOD_DEFAULTS, maxEvents: 1000, smol: false, heapReportMs: 1000 };

/** Environment a worker sees: only what the launch declares, plus PATH (ctx.exec resolves names with it). */
function workerEnv(launch: PluginLaunch): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin", ...launch.env };
}

export function createWorkerInstance(launch: PluginLaunch, options: Partial<WorkerHostOptions> = {}): PluginInstance {
  const opts = { ...WORKER_HOST_DEFAULTS, ...options };
  let worker: Worker | undefined;
  let log: PluginLog | undefined;
  /** What we asked for, so the close event can tell a stop or kill from a crash. */
  let ending: "stopped" | "killed" | undefined;
  let crash: string | undefined;
  let ended = false;
  let resolveExited!: (exit: PluginExit) => void;
  const exited = new Promise<PluginExit>((resolve) => (resolveExited = resolve));
  const eventListeners: ((event: DetectedEvent) => void)[] = [];
  /**
   * Process groups of ctx.exec children still running, which a terminated worker cannot kill itself: the
   * worker records them in shared memory (read at the end even if the worker was cut off mid-storm), and
   * by message when the table is full.
   */
  const execGroups = new Set<number>();
  const execSlots = new Int32Array(new SharedArrayBuffer(4 * EXEC_SLOTS));
  /** The last detect's events were checked and handed on: its ctx.state writes may be committed. */
  let taken = false;

  const rpc = createRpc(launch.id, (message) => {
    if (!worker) throw new Error("no worker");
    worker.postMessage(message);
  });
  const error = (code: string, message: string) => new PluginError(launch.id, { message, code });

  function finish(exit: PluginExit) {
    if (ended) return;
    ended = true;
    for (const pid of execSlots) if (pid > 1) execGroups.add(pid);
    killExecGroups(execGroups);
    if (exit.reason === "crashed" || exit.reason === "exited") rpc.closeAll({ message: exit.message ?? "the worker ended", code: "crashed" });
    else rpc.closeAll({ message: exit.reason === "killed" ? "killed" : "stopped", code: exit.reason });
    void log?.close(); // reports dropped log lines synchronously, before anyone sees the exit
    resolveExited(exit);
  }

  function onMessage(data: unknown) {
    const message = parseWorkerMessage(data);
    if (!message) return log?.write({ t: "log", level: "warn", msg: "the worker sent a message that is not part of the protocol (dropped)" });
    switch (message.t) {
      case "ok":
        return rpc.settle(message.id, { value: message.value });
      case "fail":
        return rpc.settle(message.id, { error: message.error });
      case "log":
        return log?.write(message, message.call === undefined ? undefined : rpc.onLogOf(message.call));
      case "event":
        return deliver(message.event);
      case "heap":
        return checkHeap(message.bytes);
      case "exec":
        return void (message.running ? execGroups.add(message.pid) : execGroups.delete(message.pid));
    }
  }

  function checkHeap(bytes: number) {
    const limit = launch.limits.memory;
    if (limit <= 0 || bytes <= limit || crash) return;
    crash = `memory limit: the plugin's JS heap is ${bytes} bytes, over limits.memory ${limit}`;
    log?.write({ t: "log", level: "error", msg: crash });
    rpc.closeAll({ message: crash, code: "memory_limit" });
    worker?.terminate();
  }

  function deliver(raw: unknown) {
    let event: DetectedEvent;
    try {
      event = acceptEvent(raw);
    } catch (problem) {
      return log?.write({ t: "log", level: "warn", msg: `watch: event dropped: ${(problem as Error).message}` });
    }
    for (const listener of eventListeners) {
      try {
        listener(event);
      } catch (problem) {
        log?.write({ t: "log", level: "error", msg: `event listener failed: ${(problem as Error).message}` });
      }
    }
  }

  function spawn() {
    log = createPluginLog(launch, { logger: opts.logger, level: opts.logLevel, flood: opts.flood });
    worker = new Worker(opts.entryUrl ?? workerEntryUrl(), { env: workerEnv(launch), smol: opts.smol, name: `plugin:${launch.instance}` });
    worker.addEventListener("message", (event) => onMessage(event.data));
    worker.addEventListener("messageerror", () => log?.write({ t: "log", level: "warn", msg: "a message from the worker could not be read (dropped)" }));
    // An uncaught error or unhandled rejection ends the worker (Bun closes it right after); reject now.
    worker.addEventListener("error", (event) => {
      crash ??= uncaughtMessage(event);
      rpc.closeAll({ message: crash, code: "crashed" });
      worker?.terminate();
    });
    worker.addEventListener("close", (event) => {
      const code = (event as CloseEvent).code;
      if (ending) finish({ reason: ending, code });
      else if (crash) finish({ reason: "crashed", code, message: crash });
      else finish({ reason: "exited", code, message: `the worker exited by itself (code ${code})` });
    });
  }

  function call(method: CallMethod, args: unknown[], options: CallOptions, extra: Partial<CallSpec> = {}): Promise<unknown> {
    if (!worker) return Promise.reject(error("not_started", `${method}: the plugin is not started`));
    return rpc.call({ method, args, deadline: options.deadline, signal: options.signal, ...extra });
  }

  return {
    launch,
    exited,
    async start(options) {
      if (worker || ending) throw error("already_started", "start: called twice (an instance starts once)");
      try {
        spawn();
      } catch (cause) {
        finish({ reason: "crashed", message: `cannot create the worker: ${(cause as Error).message}` });
        throw new PluginError(launch.id, { message: `start: cannot create the worker: ${(cause as Error).message}`, code: "crashed" }, cause);
      }
      const args: StartArgs = { launch, heapReportMs: opts.heapReportMs, execSlots };
      await call("start", [args], options, { accept: acceptNothing });
    },
    async detect(options) {
      const args: RunArgs = { taken };
      taken = false;
      const events = (await call("detect", [args], options, { accept: (value) => acceptEvents(value, opts.maxEvents) })) as IdentifiedEvent[];
      // An aborted caller drops what comes back (the supervisor past its limit): not taken.
      taken = !options.signal?.aborted;
      return events;
    },
    onEvent(listener) {
      eventListeners.push(listener);
    },
    async execute(request: ActionRequest, options) {
      return (await call("execute", [request], options, { accept: acceptActionOutput, onLog: options.onLog })) as Awaited<ReturnType<PluginInstance["execute"]>>;
    },
    async send(batch, options) {
      await call("send", [batch], options, { accept: acceptNothing });
    },
    async health(options) {
      return (await call("health", [], options, { accept: acceptHealth })) as Awaited<ReturnType<PluginInstance["health"]>>;
    },
    async stop(options) {
      if (ended) return;
      if (!worker) {
        ending ??= "stopped";
        finish({ reason: ending });
        return;
      }
      let failure: unknown;
      try {
        const args: RunArgs = { taken };
        await call("stop", [args], options, { accept: acceptNothing });
      } catch (problem) {
        failure = problem;
      }
      ending ??= failure instanceof PluginError && failure.code === "timeout" ? "killed" : "stopped";
      worker.terminate();
      await exited;
      if (failure) throw failure;
    },
    kill() {
      ending ??= "killed";
      if (worker) worker.terminate();
      else finish({ reason: "killed" });
    },
  };
}

/** ctx.exec children a worker tracks in shared memory at once; more are reported by message. */
const EXEC_SLOTS = 1024;

/** Bun's ErrorEvent message carries a source excerpt; the `error: …` line is the part worth reporting. */
function uncaughtMessage(event: Event): string {
  const text = (event as ErrorEvent).message ?? "";
  const line = text.split("\n").find((l) => /^\s*(\w*Error|error)(\s*\[[^\]]*\])?: /.test(l));
  return `uncaught in the worker: ${(line ?? text.split("\n").find((l) => l.trim() !== "") ?? "unknown error").trim().slice(0, 500)}`;
}
