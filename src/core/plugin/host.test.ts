import { afterEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeConfig, recordingLogger } from "../api/_testkit.ts";
import { prepareAgentHome } from "../home/index.ts";
import { redactText } from "../redact.ts";
import { createPluginHost, type PluginHost } from "./host.ts";

const roots: string[] = [];
let host: PluginHost | undefined;
afterEach(async () => {
  await host?.stopAll();
  for (const dir of roots.splice(0)) rmSync(dir, { recursive: true, force: true });
  delete process.env.STAVILY_TEST_GRANTED;
  delete process.env.STAVILY_TEST_NOT_GRANTED;
});

test("a plugin reads exactly the secrets the operator grants it, and their values are redacted from logs", async () => {
  const base = mkdtempSync(join(tmpdir(), "stavily-host-"));
  roots.push(base);
  const dir = join(base, "plugins", "peek");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "plugin.yaml"), "plugin:\n  id: peek\n  name: Peek\n  version: 1.0.0\n  type: action\n  runtime:\n    type: bun\n    entry_point: index.ts\n");
  writeFileSync(
    join(dir, "index.ts"),
    `export default { execute(ctx) { return { data: {
       granted: ctx.secret("STAVILY_TEST_GRANTED") ?? null,
       not_granted: ctx.secret("STAVILY_TEST_NOT_GRANTED") ?? null,
       env: process.env.STAVILY_TEST_GRANTED ?? null } }; } };\n`,
  );
  process.env.STAVILY_TEST_GRANTED = "granted-secret-value-123";
  process.env.STAVILY_TEST_NOT_GRANTED = "other-secret-value-456";
  const config = makeConfig(base, "http://127.0.0.1:1", [`plugins.directory=${join(base, "plugins")}`, 'plugins.secrets={"peek":["STAVILY_TEST_GRANTED"]}']);
  host = await createPluginHost({ config, home: prepareAgentHome(base, "agent-1"), logger: recordingLogger() });
  const plugin = await host.instance("peek");
  const result = await plugin.execute({ id: "r", type: "x", parameters: {}, context: {}, variables: {}, timeout: 0, metadata: {} });
  // Through ctx.secret only: not in the worker's environment, where ctx.exec would pass it on.
  expect(result.data).toEqual({ granted: "granted-secret-value-123", not_granted: null, env: null });
  expect(redactText("token granted-secret-value-123 leaked")).toBe("token [REDACTED] leaked");
});
