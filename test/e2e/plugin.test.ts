/**
 * `stavily plugin` in the compiled binary, run from an empty directory: a built-in runs with no file
 * beside the binary, and a TypeScript plugin that imports an npm package is bundled at install and
 * runs from its bundle (the binary cannot import from a plugin's node_modules).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostBinary } from "../support/binary.ts";
import { runCli } from "../support/cli.ts";

let binary: string;
let cwd: string;
let base: string;

beforeAll(async () => {
  binary = await hostBinary();
  cwd = mkdtempSync(join(tmpdir(), "stavily-e2e-plugin-"));
  base = mkdtempSync(join(tmpdir(), "stavily-e2e-plugin-base-"));
}, 180_000);

afterAll(() => {
  for (const dir of [cwd, base]) if (dir) rmSync(dir, { recursive: true, force: true });
});

const stavily = (...args: string[]) => runCli([...args, "--set", `agent.base_dir=${base}`], { binary, cwd, env: { HOME: cwd }, timeoutMs: 60_000 });

/** A plugin folder whose entry imports `tiny-shout` from its own node_modules, written by hand (no registry). */
function shoutPlugin(root: string): string {
  const dir = join(root, "shout");
  const pkg = join(dir, "node_modules", "tiny-shout");
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "tiny-shout", version: "1.0.0", type: "module", main: "index.js" }));
  writeFileSync(join(pkg, "index.js"), "export function shout(text) { return text.toUpperCase() + '!'; }\n");
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "shout", private: true, type: "module", dependencies: { "tiny-shout": "1.0.0" } }));
  writeFileSync(
    join(dir, "index.ts"),
    [
      'import { defineAction } from "stavily/sdk";',
      'import { shout } from "tiny-shout";',
      "",
      "export default defineAction({",
      "  execute(ctx, request) {",
      '    ctx.logger.info("shouting");',
      '    return { status: "completed", data: { text: shout(String(request.parameters.text)) } };',
      "  },",
      "});",
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(dir, "plugin.yaml"),
    ["plugin:", "  id: shout", "  name: Shout", '  version: "1.0.0"', "  type: action", "  runtime:", "    type: bun", "    entry_point: index.ts", ""].join("\n"),
  );
  return dir;
}

describe("stavily plugin (compiled binary)", () => {
  test("run echo: a built-in, with nothing beside the binary", async () => {
    const result = await stavily("plugin", "run", "echo", "--input", '{"message":"hi"}');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: "completed", data: { message: "hi" } });
    expect(result.stderr).toContain("echo");
  });

  test("install bundles a plugin's npm dependency, and run executes the bundle", async () => {
    const dir = shoutPlugin(mkdtempSync(join(cwd, "src-")));
    const installed = await stavily("plugin", "install", dir);
    expect(installed.stderr).toBe("");
    expect(installed.code).toBe(0);
    expect(installed.stdout).toContain("ok: installed shout@1.0.0");
    expect(installed.stdout).toContain("bundled: index.stavily-bundle.js");

    const ran = await stavily("plugin", "run", "shout", "--input", '{"text":"hello"}');
    expect(ran.code).toBe(0);
    expect(JSON.parse(ran.stdout)).toMatchObject({ status: "completed", data: { text: "HELLO!" } });
    expect(ran.stderr).toContain("shouting");
  });

  test("run of the plugin's folder bundles it in a copy first, as install would", async () => {
    const dir = shoutPlugin(mkdtempSync(join(cwd, "src-")));
    const ran = await stavily("plugin", "run", dir, "--input", '{"text":"folder"}');
    expect(ran.code).toBe(0);
    expect(JSON.parse(ran.stdout)).toMatchObject({ data: { text: "FOLDER!" } });
  });
});
