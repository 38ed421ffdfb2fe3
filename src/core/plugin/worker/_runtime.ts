/**
 * The worker's side of the protocol: runs each call against the plugin with its own ctx and abort
 * signal, and always answers — a value, or the error the plugin threw (execute's throws become a
 * failed result). The host checks whatever comes back.
 */
import { heapSize } from "bun:jsc";
import type { ActionPlugin, AnyPlugin, OutputPlugin, TriggerPlugin } from "../../../sdk/types.ts";
import type { ActionRequest, PluginLaunch } from "../types.ts";
import { createContext, createServices, type Services } from "./context/index.ts";
import { loadPlugin, validateConfig } from "./_load.ts";
import { type CallMethod, type HostMessage, type RunArgs, type StartArgs, toErrorInfo, type WorkerMessage } from "./_protocol.ts";

export const RUNTIME_DEFAULTS = { maxFileBytes: 100 * 1024 * 1024 };

type Post = (message: WorkerMessage) => void;

export function createWorkerRuntime(post: Post, env: { path: string }) {
  const calls = new Map<number, AbortController>();
  /** Aborts `watch` at stop. */
  const watching = new AbortController();
  let plugin: AnyPlugin | undefined;
  let services: Services | undefined;

  const loaded = () => {
    if (!plugin || !services) throw Object.assign(new Error("not started"), { code: "not_started" });
    return { plugin, services };
  };

  const methods: Record<CallMethod, (signal: AbortSignal, id: number, args: unknown[]) => Promise<unknown>> = {
    async start(signal, id, [args]) {
      if (plugin) throw Object.assign(new Error("already started"), { code: "already_started" });
      const { launch, heapReportMs, execSlots } = args as StartArgs;
      const loadedPlugin = await loadPlugin(launch);
      const config = await validateConfig(loadedPlugin, launch.config);
      const made = createServices(launch, config, post, { path: env.path, maxFileBytes: RUNTIME_DEFAULTS.maxFileBytes, execSlots });
      const ctx = createContext(made, signal, id);
      await loadedPlugin.init?.(ctx);
      await loadedPlugin.start?.(ctx);
      plugin = loadedPlugin;
      services = made;
      startWatch(loadedPlugin as TriggerPlugin, made, launch);
      if (launch.limits.memory > 0) reportHeap(heapReportMs);
      return undefined;
    },
    async detect(signal, id, [args]) {
      const { plugin: p, services: s } = loaded();
      const detect = (p as TriggerPlugin).detect;
      if (!detect) return null;
      const run = s.state.beginRun((args as RunArgs | undefined)?.taken === true);
      const value = await run.within(() => Promise.resolve(detect.call(p, createContext(s, signal, id))));
      const events = value === null || value === undefined ? [] : Array.isArray(value) ? value : [value];
      // Aborted (past its deadline, cancelled), the host has given up on the run: not ended, its writes are dropped.
      if (!signal.aborted) run.end(events.length);
      // The host checks each event, this id included; what is not an object it refuses as it is.
      return events.map((event, index) => (typeof event === "object" && event !== null && !Array.isArray(event) ? { ...event, id: run.eventId(index) } : event));
    },
    async execute(signal, id, [request]) {
      const { plugin: p, services: s } = loaded();
      try {
        return (await (p as ActionPlugin).execute(createContext(s, signal, id), request as ActionRequest, signal)) ?? {};
      } catch (error) {
        return { status: "failed", error: toErrorInfo(error) };
      }
    },
    async send(signal, id, [batch]) {
      const { plugin: p, services: s } = loaded();
      await (p as OutputPlugin).send(createContext(s, signal, id), batch as unknown[]);
      return undefined;
    },
    async health(signal, id) {
      const { plugin: p, services: s } = loaded();
      return (await p.health?.(createContext(s, signal, id))) ?? null;
    },
    async stop(signal, id, [args]) {
      watching.abort(new Error("stopping"));
      if (!plugin || !services) return undefined;
      try {
        services.state.commitRun((args as RunArgs | undefined)?.taken === true);
        await plugin.stop?.(createContext(services, signal, id));
      } finally {
        services.state.close();
      }
      return undefined;
    },
  };

  /** The host enforces the limit; a worker busy in a loop stops reporting, and the deadline catches it. */
  function reportHeap(everyMs: number) {
    setInterval(() => {
      try {
        post({ t: "heap", bytes: heapSize() });
      } catch {
        // host gone
      }
    }, everyMs);
  }

  function startWatch(p: TriggerPlugin, s: Services, launch: PluginLaunch) {
    if (typeof p.watch !== "function") return;
    const ctx = createContext(s, watching.signal);
    const emit = (event: unknown) => {
      if (watching.signal.aborted) return;
      try {
        post({ t: "event", event });
      } catch (error) {
        ctx.logger.warn("watch: event dropped, it cannot be sent to the host", { error: (error as Error).message });
      }
    };
    // A watch loop that ends or fails is reported, not fatal: detect may still work.
    Promise.resolve()
      .then(() => p.watch?.(ctx, emit))
      .then(
        () => watching.signal.aborted || ctx.logger.warn(`watch of ${launch.instance} returned before stop`),
        (error) => ctx.logger.error(`watch of ${launch.instance} failed`, error instanceof Error ? error : { error: String(error) }),
      );
  }

  async function run(message: Extract<HostMessage, { t: "call" }>) {
    const controller = new AbortController();
    calls.set(message.id, controller);
    const timer = setTimeout(() => controller.abort(new Error("deadline passed")), Math.max(0, message.deadline - Date.now()));
    try {
      const method = methods[message.method];
      if (!method) throw Object.assign(new Error(`unknown method ${String(message.method)}`), { code: "bad_request" });
      const value = await method(controller.signal, message.id, Array.isArray(message.args) ? message.args : []);
      reply({ t: "ok", id: message.id, value });
    } catch (error) {
      reply({ t: "fail", id: message.id, error: toErrorInfo(error) });
    } finally {
      clearTimeout(timer);
      calls.delete(message.id);
    }
  }

  /** A value structured clone refuses (a function, a socket) is the plugin's fault, not a crash. */
  function reply(message: WorkerMessage) {
    try {
      post(message);
    } catch (error) {
      if (message.t !== "ok") throw error;
      post({ t: "fail", id: message.id, error: { message: `the plugin returned a value that cannot be sent: ${(error as Error).message}`, code: "invalid_output" } });
    }
  }

  return {
    receive(data: unknown) {
      const message = data as HostMessage;
      if (message?.t === "abort") calls.get(message.id)?.abort(new Error(message.reason));
      else if (message?.t === "call") void run(message);
    },
  };
}
