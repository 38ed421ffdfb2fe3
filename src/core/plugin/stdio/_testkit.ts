/** Test support: launches of the testdata plugins in fresh temp dirs, and deadlines in milliseconds from now. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { PluginLaunch } from "../types.ts";

export const TESTDATA = path.join(import.meta.dir, "testdata");

const roots: string[] = [];

/** A fresh temp dir, removed by `removeTempDirs`. */
export function tempDir(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "stavily-stdio-"));
  roots.push(root);
  return root;
}

export function removeTempDirs(): void {
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
}

export function makeLaunch(overrides: Partial<PluginLaunch> = {}): PluginLaunch {
  const root = tempDir();
  const workDir = path.join(root, "work");
  fs.mkdirSync(workDir);
  return {
    id: "demo",
    instance: "demo-1",
    kind: "trigger",
    dir: TESTDATA,
    entry: path.join(TESTDATA, "demo_plugin.py"),
    runtime: "python",
    config: {},
    agent: { id: "agent-7", type: "sensor", name: "test agent", environment: "test", tags: [] },
    workDir,
    logFile: path.join(root, "logs", "plugins", "demo.log"),
    stateDir: path.join(root, "state"),
    permissions: { network: false, filesystem: { read: [], write: [] }, exec: [], system_calls: [], capabilities: [] },
    limits: { memory: 0, cpu: 0, execution_time: 0 },
    ...overrides,
  };
}

/** Call options whose deadline is `ms` from now. */
export const within = (ms: number) => ({ deadline: Date.now() + ms });

export { isGone } from "../../../../test/support/process.ts";

/** Waits for a condition with a deadline, checking every 10 ms (for states no event announces, like a pid's end). */
export async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await Bun.sleep(10);
  }
}

/** Resolves with the first line `lines` receives that matches, or rejects at the deadline. */
export function nextLine(pattern: RegExp, timeoutMs: number) {
  let onLine!: (line: string) => void;
  const found = new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms`)), timeoutMs);
    onLine = (line) => {
      const match = line.match(pattern);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    };
  });
  return { onLine, found };
}
