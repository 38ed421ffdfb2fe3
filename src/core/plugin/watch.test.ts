import { afterEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeConfig, recordingLogger } from "../api/_testkit.ts";
import { prepareAgentHome } from "../home/index.ts";
import { createPluginHost, type PluginHost } from "./host.ts";
import { watchPlugins } from "./watch.ts";

const roots: string[] = [];
let host: PluginHost | undefined;
const stop = new AbortController();
afterEach(async () => {
  stop.abort();
  await host?.stopAll();
  for (const dir of roots.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function writePlugin(dir: string, answer: string) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "plugin.yaml"), "plugin:\n  id: changing\n  name: Changing\n  version: 1.0.0\n  type: action\n  runtime:\n    type: bun\n    entry_point: index.ts\n");
  const file = join(dir, "index.ts");
  writeFileSync(file, `export default { execute() { return { data: { answer: ${JSON.stringify(answer)} } }; } };\n`);
  // A distinct mtime even when both writes fall within the filesystem's timestamp granularity.
  const stamp = new Date(Date.now() + (answer === "new" ? 5_000 : 0));
  utimesSync(file, stamp, stamp);
}

test("a changed plugin is reloaded: new calls run the new code, without restarting the agent", async () => {
  const base = mkdtempSync(join(tmpdir(), "stavily-watch-"));
  roots.push(base);
  const pluginsDir = join(base, "plugins");
  writePlugin(join(pluginsDir, "changing"), "old");
  const config = makeConfig(base, "http://127.0.0.1:1", [`plugins.directory=${pluginsDir}`]);
  const logger = recordingLogger();
  host = await createPluginHost({ config, home: prepareAgentHome(base, "agent-1"), logger });
  const call = async () =>
    (await (await host!.instance("changing")).execute({ id: "r", type: "x", parameters: {}, context: {}, variables: {}, timeout: 0, metadata: {} })).data;
  expect(await call()).toEqual({ answer: "old" });

  const watching = watchPlugins({ host, logger, intervalMs: 50, signal: stop.signal });
  writePlugin(join(pluginsDir, "changing"), "new");
  const deadline = Date.now() + 10_000;
  while (!logger.lines.some((line) => line.msg === "plugin files changed; reloading")) {
    if (Date.now() > deadline) throw new Error("no reload within 10 s");
    await Bun.sleep(20);
  }
  expect(await call()).toEqual({ answer: "new" });
  stop.abort();
  await watching;
});

test("a change the agent applied itself (an install's refresh and replace) is not reloaded again", async () => {
  const base = mkdtempSync(join(tmpdir(), "stavily-watch-"));
  roots.push(base);
  const pluginsDir = join(base, "plugins");
  writePlugin(join(pluginsDir, "changing"), "old");
  const config = makeConfig(base, "http://127.0.0.1:1", [`plugins.directory=${pluginsDir}`]);
  const logger = recordingLogger();
  host = await createPluginHost({ config, home: prepareAgentHome(base, "agent-1"), logger });
  let scans = 0;
  const refresh = host.refresh;
  host.refresh = async () => {
    await refresh();
    scans++;
  };
  // Its own signal: the first test aborted the shared one.
  const watch = new AbortController();
  const watching = watchPlugins({ host, logger, intervalMs: 50, signal: watch.signal });

  // What a plugin_install does: new files, then refresh and replace, then the instruction that uses it.
  writePlugin(join(pluginsDir, "changing"), "new");
  await refresh();
  await host.replace("changing");
  const started = await host.instance("changing");
  const seen = scans;
  for (const deadline = Date.now() + 10_000; scans < seen + 3; await Bun.sleep(20)) if (Date.now() > deadline) throw new Error("the watcher did not scan");

  expect(logger.lines.filter((line) => line.msg === "plugin files changed; reloading")).toEqual([]);
  expect(await host.instance("changing")).toBe(started);
  expect((await started.execute({ id: "r", type: "x", parameters: {}, context: {}, variables: {}, timeout: 0, metadata: {} })).data).toEqual({ answer: "new" });
  watch.abort();
  await watching;
}, 20_000);
