/** Test support: launches of testdata plugins in fresh temp homes, requests, and the bwrap requirement. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SYSTEM_PATH } from "./_options.ts";
import type { ActionRequest, PluginInstance, PluginKind, PluginLaunch } from "../types.ts";

export const TESTDATA = path.join(import.meta.dir, "testdata");

const homes: string[] = [];
const running: PluginInstance[] = [];

/** A fresh temp dir, removed by `cleanup`. */
export function tempHome(): string {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "stavily-sandbox-"));
  homes.push(home);
  return home;
}

/** Kills what a test left running and removes its temp dirs. */
export async function cleanup(): Promise<void> {
  const instances = running.splice(0);
  for (const instance of instances) instance.kill();
  await Promise.all(instances.map((instance) => instance.exited));
  for (const home of homes.splice(0)) fs.rmSync(home, { recursive: true, force: true });
}

export function track<T extends PluginInstance>(instance: T): T {
  running.push(instance);
  return instance;
}

/** A launch of testdata/<file> (its runtime from the extension) with its dirs under a fresh home. */
export function launchOf(file: string, kind: PluginKind, overrides: Partial<PluginLaunch> = {}): PluginLaunch {
  const home = tempHome();
  const id = path.basename(file).replace(/\.\w+$/, "");
  // The agent creates the work dir before a start; the state dir is the plugin's to create.
  fs.mkdirSync(path.join(home, "work", id), { recursive: true });
  return {
    id,
    instance: `${id}-1`,
    kind,
    dir: TESTDATA,
    entry: path.join(TESTDATA, file),
    runtime: file.endsWith(".py") ? "python" : "bun",
    config: {},
    agent: { id: "agt_test", type: kind === "action" ? "action" : "sensor", name: "test", environment: "test", tags: [] },
    workDir: path.join(home, "work", id),
    logFile: path.join(home, "logs", "plugins", `${id}.log`),
    stateDir: path.join(home, "state", id),
    permissions: { network: false, filesystem: { read: [], write: [] }, exec: [], system_calls: [], capabilities: [] },
    limits: { memory: 0, cpu: 0, execution_time: 0 },
    ...overrides,
  };
}

export function request(type: string, parameters: Record<string, unknown> = {}): ActionRequest {
  return { id: `req-${type}`, type, parameters, context: {}, variables: {}, timeout: 10, metadata: {} };
}

export const within = (ms = 15_000) => ({ deadline: Date.now() + ms });

/**
 * Whether the strict tests can run. Without bwrap they fail with the reason, so a machine that lacks it
 * cannot pass them silently; STAVILY_TEST_NO_BWRAP=1 lets them pass vacuously there (CI installs bwrap).
 */
export function bwrapAvailable(): boolean {
  // Where the sandbox itself looks (the PATH, then the system directories).
  if (process.platform === "linux" && Bun.which("bwrap", { PATH: `${process.env.PATH ?? ""}:${SYSTEM_PATH}` })) return true;
  const reason = `bubblewrap (bwrap) is not installed on this ${process.platform} machine: the strict level cannot be tested`;
  if (process.env.STAVILY_TEST_NO_BWRAP === "1") {
    console.warn(`${reason} (STAVILY_TEST_NO_BWRAP=1: not run)`);
    return false;
  }
  throw new Error(`${reason}; install it (apt-get install bubblewrap) or set STAVILY_TEST_NO_BWRAP=1`);
}

/** Pids whose environment holds `entry` (e.g. `STAVILY_WORK_DIR=<dir>`): every process of one plugin, in or out of a sandbox. */
export function pidsWithEnv(entry: string): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/environ`, "latin1").split("\0").includes(entry)) pids.push(Number(name));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}
