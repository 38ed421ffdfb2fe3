import type { ActionPlugin, OutputPlugin, TriggerPlugin } from "./types.ts";

/**
 * Identity helpers: they only give a plugin's object its types (`ctx.config` typed from
 * `configSchema`). A plugin that exports a plain object without them works the same.
 */
export function defineTrigger<Config = Record<string, unknown>>(plugin: TriggerPlugin<Config>): TriggerPlugin<Config> {
  return plugin;
}

export function defineAction<Config = Record<string, unknown>>(plugin: ActionPlugin<Config>): ActionPlugin<Config> {
  return plugin;
}

export function defineOutput<Config = Record<string, unknown>>(plugin: OutputPlugin<Config>): OutputPlugin<Config> {
  return plugin;
}

/** Marks an error as worth retrying (a timeout, a 503): `throw retryable(err)`. Non-objects are wrapped. */
export function retryable<E>(error: E): E extends object ? E : Error {
  const target = typeof error === "object" && error !== null ? error : new Error(String(error));
  (target as { retryable?: boolean }).retryable = true;
  return target as E extends object ? E : Error;
}
