/**
 * plugin_install / plugin_update / plugin_uninstall through a real host: archives served from a
 * local HTTP server, installed, run in Workers, updated, rolled back, removed.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeConfig, recordingLogger, startServer, type TestServer } from "../api/_testkit.ts";
import { prepareAgentHome } from "../home/index.ts";
import type { Instruction } from "../protocol/index.ts";
import { createPluginHost, type PluginHost } from "./host.ts";
import { applyPluginInstruction } from "./manage.ts";

const root = mkdtempSync(join(tmpdir(), "stavily-manage-"));
const archives = new Map<string, Uint8Array>();
const server: TestServer = startServer((request) => {
  const body = archives.get(new URL(request.url).pathname);
  return body ? new Response(body) : new Response("not found", { status: 404 });
});
afterAll(() => {
  server.stop();
  rmSync(root, { recursive: true, force: true });
});

let host: PluginHost | undefined;
afterEach(async () => host?.stopAll());

/** A bun action plugin "greeter" at `version`, as a .tar.gz served at /<name>.tgz; returns its URL and sha256. */
function publish(name: string, version: string, body: string, manifest = ""): { url: string; sha256: string } {
  const dir = join(root, "src", name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "plugin.yaml"),
    manifest || `plugin:\n  id: greeter\n  name: Greeter\n  version: ${version}\n  type: action\n  runtime:\n    type: bun\n    entry_point: index.ts\n`,
  );
  writeFileSync(join(dir, "index.ts"), `export default { async execute(ctx, request) { ${body} } };\n`);
  const archive = join(root, `${name}.tgz`);
  const tar = Bun.spawnSync(["tar", "-czf", archive, "-C", dir, "."]);
  if (!tar.success) throw new Error(tar.stderr.toString());
  const bytes = readFileSync(archive);
  archives.set(`/${name}.tgz`, bytes);
  return { url: `${server.url}/${name}.tgz`, sha256: new Bun.CryptoHasher("sha256").update(bytes).digest("hex") };
}

function instruction(type: Instruction["instruction_type"], source?: Record<string, unknown>): Instruction {
  return {
    id: `i-${type}-${crypto.randomUUID()}`,
    plugin_id: "greeter",
    instruction_type: type,
    plugin_configuration: source ? { source } : {},
    input_data: {},
    timeout_seconds: 0,
    max_retries: 0,
    retry_count: 0,
    priority: "normal",
  };
}

const execute = async () => {
  const plugin = await host!.instance("greeter", { kind: "action" });
  return plugin.execute({ id: "r", type: "execute", parameters: {}, context: {}, variables: {}, timeout: 0, metadata: {} });
};

describe("plugin instructions", () => {
  test("install, update, redelivery, a broken update, a crash-looping update, uninstall", async () => {
    const base = mkdtempSync(join(root, "agent-"));
    const config = makeConfig(base, server.url);
    const logger = recordingLogger();
    host = await createPluginHost({
      config,
      home: prepareAgentHome(base, "agent-1"),
      logger,
      supervision: { maxCrashes: 2, restartBaseMs: 10, restartCapMs: 20 },
    });
    const deps = { host, pluginsDir: config.plugins.directory, logger };

    const v1 = publish("v1", "1.0.0", 'return { data: { version: "1.0.0" } };');
    const installed = await applyPluginInstruction(instruction("plugin_install", { archive_url: v1.url, sha256: v1.sha256, version: "1.0.0" }), deps);
    expect(installed).toMatchObject({ status: "completed", result: { plugin_id: "greeter", version: "1.0.0", previous: null } });
    expect((await execute()).data).toEqual({ version: "1.0.0" });

    const v2 = publish("v2", "2.0.0", 'return { data: { version: "2.0.0" } };');
    const update = instruction("plugin_update", { archive_url: v2.url, sha256: v2.sha256, version: "2.0.0" });
    expect(await applyPluginInstruction(update, deps)).toMatchObject({ status: "completed", result: { version: "2.0.0", previous: "1.0.0" } });
    expect((await execute()).data).toEqual({ version: "2.0.0" });
    // The orchestrator delivers it again (the agent's result was lost): reported done, not refused.
    expect(await applyPluginInstruction(update, deps)).toMatchObject({ status: "completed", result: { version: "2.0.0", already_installed: true } });

    const broken = publish("broken", "3.0.0", "", "plugin:\n  id: greeter\n  version: 3.0.0\n  type: sideways\n");
    const refused = await applyPluginInstruction(instruction("plugin_update", { archive_url: broken.url, sha256: broken.sha256, version: "3.0.0" }), deps);
    expect(refused).toMatchObject({ status: "failed", error_details: { reason: "update_failed", plugin_id: "greeter" } });
    expect((await execute()).data).toEqual({ version: "2.0.0" });

    const crashing = publish("crashing", "4.0.0", "process.exit(7);");
    expect(await applyPluginInstruction(instruction("plugin_update", { archive_url: crashing.url, sha256: crashing.sha256, version: "4.0.0" }), deps)).toMatchObject({
      status: "completed",
      result: { version: "4.0.0" },
    });
    for (let i = 0; i < 3; i++) await execute().catch(() => undefined);
    const rolledBack = await waitFor(() => host!.rollbacks()[0], "the automatic rollback");
    expect(rolledBack).toMatchObject({ plugin: "greeter", from: "4.0.0", to: "2.0.0" });
    expect((await execute()).data).toEqual({ version: "2.0.0" });

    expect(await applyPluginInstruction(instruction("plugin_uninstall"), deps)).toMatchObject({ status: "completed", result: { removed: true } });
    expect(host.has("greeter")).toBe(false);
    await expect(execute()).rejects.toMatchObject({ code: "not_installed" });
  }, 60_000);

  test("an archive URL without a checksum is refused, naming the field", async () => {
    const base = mkdtempSync(join(root, "agent-"));
    const config = makeConfig(base, server.url);
    const logger = recordingLogger();
    host = await createPluginHost({ config, home: prepareAgentHome(base, "agent-1"), logger });
    const v1 = publish("nosum", "1.0.0", "return {};");
    const result = await applyPluginInstruction(instruction("plugin_install", { archive_url: v1.url }), { host, pluginsDir: config.plugins.directory, logger });
    expect(result.status).toBe("failed");
    expect(JSON.stringify(result)).toContain("sha256");
  });
});

async function waitFor<T>(probe: () => T | undefined, what: string, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}
