/**
 * The `ctx` a plugin's hooks receive. Services (exec, fs, state, system) are made once per
 * instance; each call gets its own ctx with that call's signal and a logger tied to the call.
 */
import { retryable } from "../../../../sdk/define.ts";
import type { PluginContext } from "../../../../sdk/types.ts";
import type { PluginLaunch } from "../../types.ts";
import type { WorkerMessage } from "../_protocol.ts";
import { permissionDenied } from "./_denied.ts";
import { createPluginExec, type PluginExec } from "./_exec.ts";
import { createPluginFs } from "./_fs.ts";
import { createPluginLogger } from "./_logger.ts";
import { createPluginState } from "./_state.ts";
import { createPluginSystem } from "./_system.ts";

export interface Services {
  launch: PluginLaunch;
  config: Record<string, unknown>;
  exec: PluginExec;
  fs: PluginContext["fs"];
  state: ReturnType<typeof createPluginState>;
  system: PluginContext["system"];
  post: (message: WorkerMessage) => void;
}

export interface ServiceOptions {
  /** PATH for resolving and running `ctx.exec` executables. */
  path: string;
  /** Largest file ctx.fs reads or writes. */
  maxFileBytes: number;
  /** Shared with the host: pids of the running ctx.exec children (StartArgs.execSlots). */
  execSlots?: Int32Array;
}

/** Claims a free slot for a started child, or frees its slot; false when the table is full (or the pid not in it). */
function recordChild(slots: Int32Array, pid: number, running: boolean): boolean {
  const [from, to] = running ? [0, pid] : [pid, 0];
  for (let i = 0; i < slots.length; i++) if (Atomics.compareExchange(slots, i, from, to) === from) return true;
  return false;
}

export function createServices(launch: PluginLaunch, config: Record<string, unknown>, post: Services["post"], options: ServiceOptions): Services {
  return {
    launch,
    config,
    exec: createPluginExec(launch, options.path, (pid, running) => {
      // The shared table when there is one (level worker) and it has room; else a message (the plugin host).
      if (!options.execSlots || !recordChild(options.execSlots, pid, running)) post({ t: "exec", pid, running });
    }),
    fs: createPluginFs(launch, { maxFileBytes: options.maxFileBytes }),
    state: createPluginState(launch.stateDir, launch.instance),
    system: createPluginSystem(),
    post,
  };
}

/** `call` ties log lines to a host call (so `execute` can stream them); none for watch loops. */
export function createContext(services: Services, signal: AbortSignal, call?: number): PluginContext {
  const { launch } = services;
  return {
    logger: createPluginLogger(services.post, call),
    config: services.config,
    agent: launch.agent,
    workDir: launch.workDir,
    signal,
    exec: (argv, options) => services.exec(argv, options, signal),
    fetch: scopedFetch(launch, signal),
    fs: services.fs,
    system: services.system,
    state: services.state,
    secret: (name) => launch.secrets?.[name],
    retryable,
  };
}

/** The global fetch, tied to the call's signal, or a refusal when the manifest grants no network. */
function scopedFetch(launch: PluginLaunch, signal: AbortSignal): typeof fetch {
  const scoped = (input: string | URL | Request, init?: RequestInit) => {
    if (!launch.permissions.network) return Promise.reject(permissionDenied(`network: ${describe(input)} (permissions.network is false)`));
    return fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal });
  };
  return Object.assign(scoped, { preconnect: fetch.preconnect }) as typeof fetch;
}

function describe(input: string | URL | Request): string {
  return typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
}
