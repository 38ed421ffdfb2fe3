/** Helpers for the worker host tests: launches in temp dirs, a logger that records, deadlines. */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Logger } from "../../log/index.ts";
import type { ActionRequest, PluginInstance, PluginKind, PluginLaunch } from "../types.ts";
import { tempDirs as makeTempDirs } from "../../../../test/support/temp.ts";
import { assertPluginConfig, expandConfigGrants, type PluginManifest } from "../manifest/index.ts";
import { createWorkerInstance } from "./host.ts";

export const TESTDATA = resolve(import.meta.dir, "testdata");

export const tempDirs = () => makeTempDirs("stavily-worker-");

/** A launch of testdata/<file> (or `builtin:<id>`) with its dirs under `home`. */
export function makeLaunch(home: string, entry: string, kind: PluginKind, overrides: Partial<PluginLaunch> = {}): PluginLaunch {
  const id = overrides.id ?? entry.replace(/^builtin:/, "").replace(/\.ts$/, "");
  const workDir = join(home, "work", id);
  mkdirSync(workDir, { recursive: true });
  return {
    id,
    instance: id,
    kind,
    dir: TESTDATA,
    entry: entry.startsWith("builtin:") ? entry : join(TESTDATA, entry),
    runtime: "bun",
    config: {},
    agent: { id: "agt_test", type: kind === "action" ? "action" : "sensor", name: "test", environment: "test", tags: [] },
    workDir,
    logFile: join(home, "logs", "plugins", `${id}.log`),
    stateDir: join(home, "state", id),
    permissions: { network: false, filesystem: { read: [], write: [] }, exec: [], system_calls: [], capabilities: [] },
    limits: { memory: 0, cpu: 0, execution_time: 0 },
    ...overrides,
  };
}

export interface RecordedLine {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
  component?: string;
}

/** A Logger that keeps its lines in memory. */
export function recordingLogger(lines: RecordedLine[] = [], component?: string): Logger & { lines: RecordedLine[] } {
  const emit = (level: string) => (msg: string, fields?: Record<string, unknown> | Error) =>
    void lines.push({ level, msg, fields: fields instanceof Error ? { error: fields.message } : fields, component });
  return {
    lines,
    trace: emit("trace"),
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    fatal: emit("fatal"),
    child: (name) => recordingLogger(lines, component ? `${component}:${name}` : name),
    close: async () => {},
  };
}

/** A deadline `ms` from now, for CallOptions. */
export function within(ms = 5_000) {
  return { deadline: Date.now() + ms };
}

/** Resolves with the promise's value, or rejects once `ms` pass — so a hang fails the test, not the run. */
export function settleWithin<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function request(type: string, parameters: Record<string, unknown> = {}): ActionRequest {
  return { id: `req_${type}`, type, parameters, context: {}, variables: {}, timeout: 30, metadata: {} };
}

/** Kills every instance a test started, and waits for each to end. */
export function instances() {
  const started: PluginInstance[] = [];
  return {
    track<T extends PluginInstance>(instance: T): T {
      started.push(instance);
      return instance;
    },
    async cleanup(): Promise<void> {
      const all = started.splice(0);
      for (const instance of all) instance.kill();
      await Promise.all(all.map((instance) => settleWithin(instance.exited, 5_000, `${instance.launch.id} exit`)));
    },
  };
}

/**
 * A plugin started as an agent starts it: config checked against its manifest, paths granted through
 * `config:<field>` permissions. For built-ins whose permissions depend on their config.
 */
export async function startAsAgent(running: ReturnType<typeof instances>, home: string, manifest: PluginManifest, config: Record<string, unknown>) {
  const checked = assertPluginConfig(manifest, config, `plugins.config.${manifest.id}`);
  const permissions = { ...expandConfigGrants(manifest, checked), system_calls: [], capabilities: [] };
  const launch = makeLaunch(home, `builtin:${manifest.id}`, manifest.type, { config: checked, permissions });
  const instance = running.track(createWorkerInstance(launch, { logger: recordingLogger() }));
  await instance.start(within());
  return instance;
}
