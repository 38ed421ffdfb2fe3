/**
 * Finds the plugin object a worker runs: a built-in from the generated registry (compiled into the
 * binary) or an external module imported from disk. Runs inside the worker.
 */
import * as v from "valibot";
import { BUILTIN_PLUGINS } from "../../../../plugins/all.ts";
import type { AnyPlugin } from "../../../sdk/types.ts";
import type { PluginKind, PluginLaunch } from "../types.ts";
import { BUILTIN_PREFIX } from "./_protocol.ts";

const REQUIRED: Record<PluginKind, readonly string[]> = { trigger: ["detect", "watch"], action: ["execute"], output: ["send"] };
const HOOKS = ["init", "start", "stop", "health", "detect", "watch", "execute", "send"] as const;

function fail(code: string, message: string): never {
  throw Object.assign(new Error(message), { code });
}

export async function loadPlugin(launch: PluginLaunch): Promise<AnyPlugin> {
  let mod: { default?: unknown; plugin?: unknown };
  if (launch.entry.startsWith(BUILTIN_PREFIX)) {
    const id = launch.entry.slice(BUILTIN_PREFIX.length);
    const builtin = BUILTIN_PLUGINS[id];
    if (!builtin) fail("invalid_plugin", `no built-in plugin "${id}" (built in: ${Object.keys(BUILTIN_PLUGINS).join(", ") || "none"})`);
    mod = await builtin.load();
  } else {
    try {
      mod = (await import(launch.entry)) as typeof mod;
    } catch (error) {
      throw Object.assign(new Error(`cannot load ${launch.entry}: ${(error as Error)?.message ?? String(error)}`), { code: "invalid_plugin", cause: error });
    }
  }
  const plugin = mod.default ?? mod.plugin;
  if (typeof plugin !== "object" || plugin === null) fail("invalid_plugin", `${launch.entry} exports no plugin object (export default defineAction({…}) etc.)`);
  const hooks = plugin as Record<string, unknown>;
  for (const hook of HOOKS) {
    if (hook in hooks && hooks[hook] !== undefined && typeof hooks[hook] !== "function") fail("invalid_plugin", `${launch.entry}: ${hook} is not a function`);
  }
  if (!REQUIRED[launch.kind].some((hook) => typeof hooks[hook] === "function")) {
    fail("invalid_plugin", `${launch.entry}: a ${launch.kind} plugin needs ${REQUIRED[launch.kind].join(" or ")}`);
  }
  return plugin as AnyPlugin;
}

/** Validates the launch config with the plugin's valibot schema; the output is what ctx.config is. */
export async function validateConfig(plugin: AnyPlugin, config: Record<string, unknown>): Promise<Record<string, unknown>> {
  const schema = plugin.configSchema;
  if (!schema) return config;
  const result = await v.safeParseAsync(schema, config);
  if (result.success) return result.output as Record<string, unknown>;
  const problems = result.issues.map((issue) => {
    const path = issue.path?.map((item) => String(item.key)).join(".");
    return `${path ? `${path}: ` : ""}${issue.message}`;
  });
  throw Object.assign(new Error(`invalid config: ${problems.join("; ")}`), { code: "invalid_config", details: { problems } });
}
