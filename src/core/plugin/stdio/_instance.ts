/** `PluginInstance` over the Stavily stdio protocol: one persistent child per instance. */
import { errorMessage } from "../../errors.ts";
import type { Logger } from "../../log/index.ts";
import { PluginError } from "../errors.ts";
import type { CallOptions, DetectedEvent, IdentifiedEvent, PluginErrorInfo, PluginExit, PluginInstance, PluginLaunch } from "../types.ts";
import type { CallHooks } from "./_channel.ts";
import { STDIO_DEFAULTS, type StdioOptions } from "./_options.ts";
import { type ChildExit, describeExit, type PluginProcess, startPluginProcess } from "./_process.ts";
import type { StdioCommand } from "./_spawn.ts";
import { killExecGroups } from "../worker/context/_exec.ts";
import { type Answer, actionRequestToWire, errorInfo, errorText, ShapeError, type StdioRequest, toActionResult, toEvents, toHealth } from "./_wire.ts";

export interface StdioDeps {
  options?: Partial<StdioOptions>;
  /** The agent's logger, for problems of the host side (an unwritable plugin log). */
  logger?: Logger;
  /** The environment the child's scrubbed one is taken from; the agent's own by default. */
  parentEnv?: Record<string, string | undefined>;
  /** How to start the child when it is not `<interpreter> <entry>`: the sandbox's plugin host, bwrap. */
  command?: StdioCommand;
}

type State = "new" | "starting" | "running" | "ended";

export function createStdioInstance(launch: PluginLaunch, deps: StdioDeps = {}): PluginInstance {
  const options: StdioOptions = { ...STDIO_DEFAULTS, ...deps.options };
  const fail = (info: PluginErrorInfo, cause?: unknown) => new PluginError(launch.id, info, cause);
  let state: State = "new";
  /** Set when the host ends the instance, so the exit is reported as stopped or killed, not crashed. */
  let intent: "stop" | "kill" | undefined;
  let forced = false;
  let child: PluginProcess | undefined;
  const extended = deps.command?.extended === true;
  /** The plugin host's last detect's events were checked and handed on: it may commit that run's ctx.state. */
  let taken = false;
  const eventListeners: ((event: DetectedEvent) => void)[] = [];
  /**
   * Process groups of the plugin host's ctx.exec children still running (each left the child's group
   * with setsid). Not inside bwrap: those pids are the sandbox's own, and its pid namespace ends with it.
   */
  const execGroups = new Set<number>();
  const tracksExec = extended && !deps.command?.wrap;
  let finish!: (exit: PluginExit) => void;
  const exited = new Promise<PluginExit>((resolve) => (finish = resolve));

  const closing = (exit: ChildExit): PluginErrorInfo => {
    if (intent === "kill") return { message: `killed (${describeExit(exit)})`, code: "killed" };
    if (intent === "stop") return { message: `stopped (${describeExit(exit)})`, code: "stopped" };
    return { message: `plugin process ${describeExit(exit)}`, code: "crashed", retryable: true };
  };
  const onEnded = (exit: ChildExit) => {
    state = "ended";
    killExecGroups(execGroups);
    const message = describeExit(exit);
    if (intent === "kill" || (intent === "stop" && forced)) finish({ reason: "killed", code: exit.code, message });
    else if (intent === "stop") finish({ reason: "stopped", code: exit.code, message });
    else finish({ reason: exit.code === 0 ? "exited" : "crashed", code: exit.code, message });
  };

  const call = (request: StdioRequest, callOptions: CallOptions, hooks?: CallHooks): Promise<Answer> => {
    if (!child || state === "new") return Promise.reject(fail({ message: `${request.action}: not started`, code: "plugin_error" }));
    return child.channel.call(extended ? { ...request, deadline: callOptions.deadline } : request, callOptions, hooks);
  };
  const succeed = (answer: Answer): Answer => {
    if (answer.success) return answer;
    const message = `${answer.action} failed: ${errorText(answer.error) ?? "the plugin answered success: false"}`;
    // Only the plugin host's error codes are kept: a Python plugin's are free text, not the supervisor's vocabulary.
    throw fail({ message, code: "plugin_error", ...(extended ? errorInfo(answer.error) : {}) });
  };
  const deliver = (push: Record<string, unknown>) => {
    if (push.push === "exec") {
      const pid = push.pid;
      if (!tracksExec || !Number.isInteger(pid) || (pid as number) <= 1 || typeof push.running !== "boolean") return;
      return void (push.running ? execGroups.add(pid as number) : execGroups.delete(pid as number));
    }
    if (push.push !== "event") return child?.log.write("host", `unknown push ${JSON.stringify(push.push)} (dropped)`);
    let events: DetectedEvent[];
    try {
      events = toEvents(push.event ?? null);
    } catch (error) {
      return child?.log.write("host", `pushed event dropped: ${errorMessage(error)}`);
    }
    for (const event of events) {
      for (const listener of eventListeners) {
        try {
          listener(event);
        } catch (error) {
          child?.log.write("host", `event listener threw: ${errorMessage(error)}`);
        }
      }
    }
  };
  const shaped = <T>(action: string, convert: () => T): T => {
    try {
      return convert();
    } catch (error) {
      if (error instanceof ShapeError) throw fail({ message: `${action}: ${error.message}`, code: "invalid_output" }, error);
      throw error;
    }
  };

  const instance: PluginInstance = {
    launch,
    exited,

    async start(callOptions) {
      if (state !== "new") throw fail({ message: "start: already started", code: "plugin_error" });
      state = "starting";
      try {
        child = await startPluginProcess(launch, callOptions.deadline, {
          options,
          logger: deps.logger,
          parentEnv: deps.parentEnv ?? process.env,
          closing,
          command: deps.command,
        });
      } catch (error) {
        state = "ended";
        finish({ reason: "crashed", code: null, message: `cannot start: ${errorMessage(error)}` });
        throw fail({ message: `cannot start: ${errorMessage(error)}`, code: "spawn_failed" }, error);
      }
      void child.ended.then(onEnded);
      if (extended) child.pushListener = deliver;
      if (intent === "kill") {
        child.terminate(0);
        throw fail({ message: "start: killed", code: "killed" });
      }
      try {
        succeed(await call({ action: "initialize", config: launch.config, ...(extended ? { launch } : {}) }, callOptions));
        succeed(await call({ action: "start" }, callOptions));
        if (state === "starting") state = "running";
      } catch (error) {
        // A half-started plugin is of no use to anyone; it must not outlive the failed start.
        if (!intent && !child.channel.closed) {
          intent = "kill";
          child.terminate(options.killGraceMs);
        }
        throw error;
      }
    },

    async detect(callOptions) {
      const previous = taken;
      taken = false;
      const answer = succeed(await call({ action: "detect_triggers", ...(extended ? { taken: previous } : {}) }, callOptions));
      const events = shaped<IdentifiedEvent[]>("detect_triggers", () => toEvents(answer.data, extended));
      taken = !callOptions.signal?.aborted; // as the worker host: an aborted caller drops the answer
      return events;
    },

    onEvent(listener) {
      // Only the extended protocol pushes events; plain stdio triggers are polled through detect.
      eventListeners.push(listener);
    },

    async execute(request, callOptions) {
      const hooks: CallHooks = {
        onFlight: (active) => {
          if (child) child.stderrListener = active ? callOptions.onLog : undefined;
        },
      };
      const answer = succeed(await call({ action: "execute_action", action_request: actionRequestToWire(request) }, callOptions, hooks));
      return shaped("execute_action", () => toActionResult(answer.data, request.id));
    },

    async send(batch, callOptions) {
      if (!extended) throw fail({ message: "send: the stdio protocol has no output action; outputs run on the bun runtime", code: "unsupported" });
      succeed(await call({ action: "send", batch }, callOptions));
    },

    async health(callOptions) {
      const answer = succeed(await call({ action: "get_health" }, callOptions));
      return shaped("get_health", () => toHealth(answer.data));
    },

    async stop(callOptions) {
      if (state === "new") {
        state = "ended";
        finish({ reason: "stopped", code: null, message: "never started" });
        return;
      }
      if (state === "ended") return;
      const running = child;
      if (!running) {
        // Still spawning: nothing to ask yet, so it ends as killed once it exists.
        instance.kill();
        await exited;
        return;
      }
      if (!intent) {
        intent = "stop";
        // SIGTERM leaves the grace period before the deadline, so the SIGKILL lands on it.
        const termAt = Math.max(Date.now(), callOptions.deadline - options.killGraceMs);
        const termTimer = setTimeout(() => {
          forced = true;
          running.terminate(callOptions.deadline - Date.now());
        }, termAt - Date.now());
        void running.ended.then(() => clearTimeout(termTimer));
        try {
          const answer = await running.channel.call({ action: "stop", ...(extended ? { deadline: termAt, taken } : {}) }, { deadline: termAt, signal: callOptions.signal });
          if (!answer.success) running.log.write("host", `stop answered success: false: ${errorText(answer.error) ?? ""}`);
        } catch (error) {
          running.log.write("host", `stop: ${errorMessage(error)}`);
        }
        running.endInput();
      }
      // Bounded even for a child the kernel cannot reap at once (stuck in uninterruptible I/O).
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), Math.max(0, callOptions.deadline - Date.now()) + options.drainMs + 1000);
      });
      const outcome = await Promise.race([running.ended, late]);
      clearTimeout(timer);
      if (outcome === "late") throw fail({ message: `stop: process ${running.pid} still running after SIGKILL`, code: "timeout" });
    },

    kill() {
      // Already gone (its end is being reported): it crashed or exited, it was not killed.
      if (state === "ended" || intent === "kill" || child?.channel.closed) return;
      intent = "kill";
      if (!child) {
        if (state === "new") {
          state = "ended";
          finish({ reason: "killed", code: null, message: "never started" });
        }
        // Still starting: start() sees the intent once the child exists.
        return;
      }
      child.channel.close({ message: "killed", code: "killed" });
      child.terminate(options.killGraceMs);
    },
  };
  return instance;
}
