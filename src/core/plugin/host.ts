/**
 * The plugin host both agents use: the catalog of plugins, their configuration checked against
 * their manifests, and one supervised instance per (plugin, instance name), started on first use
 * on the runtime the plugin and the sandbox level call for.
 */
import { mkdirSync } from "node:fs";
import { NO_AUDIT, type AuditEvent, type AuditLog } from "../audit/index.ts";
import type { Config } from "../config/index.ts";
import { errorMessage } from "../errors.ts";
import { registerSecret } from "../redact.ts";
import type { AgentHome } from "../home/index.ts";
import type { Logger } from "../log/index.ts";
import { loadCatalog, type Catalog, type CatalogEntry } from "./catalog.ts";
import { PluginError } from "./errors.ts";
import { rollback } from "./install/index.ts";
import { assertPluginConfig, toLaunch } from "./manifest/index.ts";
import { checkSandboxLevel, createSandboxedInstance } from "./sandbox/index.ts";
import { supervisePlugin, type SupervisedPlugin, type SupervisorOptions } from "./supervisor.ts";
import type { AgentIdentity, DetectedEvent, PluginHostFactory, PluginKind } from "./types.ts";
import type { PluginStats } from "./_stats.ts";
import { fingerprint } from "./watch.ts";

export interface PluginHostOptions {
  config: Config;
  home: AgentHome;
  logger: Logger;
  /** Starts an instance; by default chosen from the plugin's runtime and security.sandbox.level. */
  factory?: PluginHostFactory;
  /** Restart backoff and quarantine thresholds (the supervisor's defaults otherwise). */
  supervision?: Pick<SupervisorOptions, "maxCrashes" | "crashWindowMs" | "restartBaseMs" | "restartCapMs">;
  /** Where quarantines, rollbacks, reloads and sandbox refusals are recorded (nowhere by default). */
  audit?: AuditLog;
}

export interface PluginSummary {
  version: string;
  source: CatalogEntry["source"];
  instances: Record<string, { state: string; stats: PluginStats }>;
}

export async function createPluginHost(options: PluginHostOptions) {
  const { config, home } = options;
  const logger = options.logger.child("plugins");
  const audit = options.audit ?? NO_AUDIT;
  // What happens here already happened: a record that cannot be written is reported, not allowed to undo it.
  const audited = (event: AuditEvent, fields: Record<string, unknown>) => {
    try {
      audit.record(event, fields);
    } catch (error) {
      logger.error("audit record not written", { event, ...fields, error: errorMessage(error) });
    }
  };
  const factory =
    options.factory ??
    (await runtimeFactory(config.security.sandbox, { logger }).catch((error: unknown) => {
      audited("sandbox.refused", { level: config.security.sandbox.level, reason: errorMessage(error) });
      throw error;
    }));
  let catalog: Catalog = await loadCatalog(config.plugins);
  for (const failure of catalog.failures) logger.error("plugin not loaded", failure.error);
  const agent = agentIdentity(config);
  const instances = new Map<string, Promise<SupervisedPlugin>>();
  /** Each plugin's fingerprint as its instances run it: what `changed` compares the directory against. */
  const applied = new Map<string, string>();
  const apply = (id: string) => {
    const stamp = catalog.entries.has(id) ? fingerprint(catalog.entries.get(id)!) : undefined;
    if (stamp === undefined) applied.delete(id);
    else applied.set(id, stamp);
  };
  for (const id of catalog.entries.keys()) apply(id);
  /** Rollbacks done automatically, for heartbeats and the audit log. */
  const rollbacks: Array<{ plugin: string; from: string; to: string; at: string; reason: string }> = [];

  function entry(id: string, kind?: PluginKind): CatalogEntry {
    const found = catalog.entries.get(id);
    if (!found) throw new PluginError(id, { code: "not_installed", message: `plugin "${id}" is not installed on this agent` });
    if (kind && found.manifest.type !== kind) {
      throw new PluginError(id, { code: "wrong_type", message: `plugin "${id}" is a ${found.manifest.type} plugin, not ${kind === "action" ? "an" : "a"} ${kind}` });
    }
    return found;
  }

  /**
   * A version installed moments ago that crash-loops goes back to the one before it, reported and
   * logged; older versions are left quarantined for an operator to look at.
   */
  async function rollBackIfFresh(id: string, reason: string): Promise<void> {
    const current = catalog.entries.get(id);
    const installed = current?.source === "installed" ? current.installed : undefined;
    if (!installed?.previous || Date.now() - Date.parse(installed.installed_at) > ROLLBACK_WINDOW_MS) return;
    try {
      const restored = await rollback(config.plugins.directory, id);
      await host.refresh();
      await host.replace(id);
      // Recorded once new uses start the restored version, never while the quarantined one answers.
      rollbacks.push({ plugin: id, from: installed.version, to: restored.version, at: new Date().toISOString(), reason });
      logger.error("plugin rolled back: the new version crash-looped", { plugin: id, from: installed.version, to: restored.version, reason });
      audited("plugin.rollback", { plugin: id, from: installed.version, to: restored.version, reason });
    } catch (error) {
      logger.error("plugin rollback failed; it stays quarantined", { plugin: id, error: error instanceof Error ? error : String(error) });
      audited("plugin.rollback", { plugin: id, from: installed.version, ok: false, error: errorMessage(error) });
    }
  }

  /** The agent's environment variables the operator grants plugin `id`; each is redacted from every log. */
  function grantedSecrets(id: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const name of config.plugins.secrets[id] ?? []) {
      const value = process.env[name];
      if (value === undefined) {
        logger.warn("a secret granted to the plugin is not set in the agent's environment", { plugin: id, variable: name });
        continue;
      }
      registerSecret(value);
      out[name] = value;
    }
    return out;
  }

  async function start(
    id: string,
    instance: string,
    kind: PluginKind | undefined,
    instanceConfig: Record<string, unknown>,
    onEvent?: (event: DetectedEvent) => void,
  ): Promise<SupervisedPlugin> {
    const { manifest } = entry(id, kind);
    const where = instance === id ? `plugins.config.${id}` : `${instance}.config`;
    const pluginConfig = assertPluginConfig(manifest, { ...(config.plugins.config[id] ?? {}), ...instanceConfig }, where);
    const launch = { ...toLaunch(manifest, { home, agent, instance, config: pluginConfig, sandbox: config.security.sandbox }), secrets: grantedSecrets(id), agentHome: home.root };
    // A stdio child's cwd: without it the spawn fails with an ENOENT that names the interpreter.
    mkdirSync(launch.workDir, { recursive: true, mode: 0o750 });
    const supervised = supervisePlugin({
      ...options.supervision,
      launch,
      factory,
      logger,
      controlTimeoutMs: config.plugins.timeout,
      defaultCallTimeoutMs: manifest.type === "action" ? config.action.task_timeout : manifest.type === "trigger" ? config.sensor.trigger_timeout : config.plugins.timeout,
      graceMs: config.action.cancel_grace_period,
      onQuarantine: (reason) => {
        audited("plugin.quarantine", { plugin: id, instance, version: manifest.version, reason });
        void rollBackIfFresh(id, reason);
      },
      onEvent,
    });
    await supervised.start();
    logger.info("plugin started", { plugin: id, instance, version: manifest.version, runtime: manifest.runtime.type });
    return supervised;
  }

  const host = {
    /** Every plugin this agent can run. */
    list: (): CatalogEntry[] => [...catalog.entries.values()],
    has: (id: string) => catalog.entries.has(id),
    manifest: (id: string) => entry(id).manifest,
    /**
     * The running instance `instance` of plugin `id`, started on first use (one start even when
     * asked for concurrently). A start that fails is forgotten, so the next use tries again.
     */
    instance(
      id: string,
      options: { instance?: string; kind?: PluginKind; config?: Record<string, unknown>; onEvent?: (event: DetectedEvent) => void } = {},
    ): Promise<SupervisedPlugin> {
      const name = options.instance ?? id;
      const key = `${id}/${name}`;
      let pending = instances.get(key);
      if (!pending) {
        pending = start(id, name, options.kind, options.config ?? {}, options.onEvent);
        instances.set(key, pending);
        pending.catch(() => instances.delete(key));
      }
      return pending;
    },
    /** What every heartbeat carries about plugins. */
    async summary(): Promise<Record<string, PluginSummary>> {
      const out: Record<string, PluginSummary> = {};
      for (const [key, pending] of instances) {
        const supervised = await pending.catch(() => undefined);
        if (!supervised) continue;
        const [id, name] = key.split("/") as [string, string];
        const item = (out[id] ??= { version: entry(id).manifest.version, source: entry(id).source, instances: {} });
        item.instances[name] = { state: supervised.state, stats: { ...supervised.stats } };
      }
      return out;
    },
    /** Plugins whose files differ from what their instances run (after `refresh`): for plugins.watch_changes. */
    changed(): Array<{ id: string; removed: boolean }> {
      const out: Array<{ id: string; removed: boolean }> = [];
      for (const id of new Set([...applied.keys(), ...catalog.entries.keys()])) {
        const current = catalog.entries.has(id) ? fingerprint(catalog.entries.get(id)!) : undefined;
        if (current !== applied.get(id)) out.push({ id, removed: !catalog.entries.has(id) });
      }
      return out;
    },
    /** Reads the plugins directory again (after an install or removal). */
    async refresh(): Promise<void> {
      catalog = await loadCatalog(config.plugins);
      for (const failure of catalog.failures) logger.error("plugin not loaded", failure.error);
    },
    /**
     * New uses of plugin `id` start its current version; the running instances finish the calls they
     * have (each within its time limit) and then stop.
     */
    async replace(id: string): Promise<void> {
      apply(id);
      const retiring: Promise<SupervisedPlugin>[] = [];
      for (const [key, pending] of instances) {
        if (key.startsWith(`${id}/`)) {
          instances.delete(key);
          retiring.push(pending);
        }
      }
      audited("plugin.reload", { plugin: id, version: catalog.entries.get(id)?.manifest.version ?? null, retired_instances: retiring.length });
      await Promise.allSettled(retiring.map(async (pending) => (await pending).retire()));
    },
    /** Automatic rollbacks so far. */
    rollbacks: () => [...rollbacks],
    async stopAll(): Promise<void> {
      const all = [...instances.values()];
      instances.clear();
      await Promise.allSettled(all.map(async (pending) => (await pending).stop()));
    },
  };
  return host;
}

/** How long after an install a crash loop counts against the new version. */
const ROLLBACK_WINDOW_MS = 15 * 60_000;

export type PluginHost = Awaited<ReturnType<typeof createPluginHost>>;

/**
 * The runtime for each launch at `level`: worker (bun plugins in a Worker, others as children),
 * process (every plugin in its own process, bun ones in a re-executed stavily) or strict (that,
 * inside bubblewrap). A level this machine cannot provide is refused here, at start, with the
 * reason — never silently weakened.
 */
export async function runtimeFactory(
  sandbox: Config["security"]["sandbox"],
  options: { logger?: Logger; /** Where plugin log lines go instead of the plugin's log file (`plugin run`). */ pluginLines?: Logger } = {},
): Promise<PluginHostFactory> {
  await checkSandboxLevel(sandbox.level);
  return (launch) =>
    createSandboxedInstance(launch, sandbox.level, {
      networkAccess: sandbox.network_access,
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.pluginLines ? { worker: { logger: options.pluginLines } } : {}),
    });
}

/** Who a plugin runs for (ctx.agent), from the agent's config. */
export function agentIdentity(config: Config): AgentIdentity {
  const { id, type, name, environment, tags } = config.agent;
  return { id, type, name, environment, tags };
}
