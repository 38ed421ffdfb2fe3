import { afterEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { StavilyError } from "../../errors.ts";
import { installPlugin, listInstalled } from "./index.ts";
import { sh, validate, writeTree } from "./_testkit.ts";
import { tempDirs } from "../../../../test/support/temp.ts";

const TESTDATA = path.join(import.meta.dir, "testdata");

const temp = tempDirs("stavily-install-");
afterEach(() => temp.cleanup());
const scratch = () => temp.make();

/** testdata/ts-plugin copied out, with testdata/tiny-pkg installed into its node_modules by npm (offline). */
function pluginWithDependency(): string {
  const dir = path.join(scratch(), "shouter");
  fs.cpSync(path.join(TESTDATA, "ts-plugin"), dir, { recursive: true });
  sh(
    ["npm", "install", "--no-save", "--install-links", "--offline", "--no-audit", "--no-fund", "--no-package-lock", path.join(TESTDATA, "tiny-pkg")],
    dir,
  );
  return dir;
}

/** Imports `file` in a fresh `bun` process started elsewhere, and returns what `expression` printed. */
function importInFreshBun(file: string, expression: string): string {
  const script = `const m = await import(${JSON.stringify(file)}); console.log(${expression});`;
  return sh([process.execPath, "-e", script], scratch()).trim();
}

async function rejects(promise: Promise<unknown>): Promise<StavilyError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StavilyError);
  return error as StavilyError;
}

describe("a TypeScript plugin that imports an npm package", () => {
  test("is bundled so that the installed plugin imports nothing from node_modules", async () => {
    const src = pluginWithDependency();
    expect(fs.lstatSync(path.join(src, "node_modules/.bin/tiny-pkg")).isSymbolicLink()).toBe(true);
    const pluginsDir = path.join(scratch(), "plugins");
    const installed = await installPlugin({ type: "directory", path: src }, { pluginsDir, validate });

    expect(installed.bundle).toBe(path.join(installed.dir, "src/index.stavily-bundle.js"));
    expect(fs.existsSync(path.join(installed.dir, "node_modules"))).toBe(false);
    const bundle = fs.readFileSync(installed.bundle ?? "", "utf8");
    expect(bundle).not.toContain("tiny-pkg\"");
    expect(bundle).not.toMatch(/\bimport\b[^;]*\bfrom\b/);
    expect(importInFreshBun(installed.bundle ?? "", 'm.greet("stavily")')).toBe("HELLO STAVILY!");
    // The source is left as it was.
    expect(fs.existsSync(path.join(src, "node_modules/tiny-pkg"))).toBe(true);
    const [listed] = await listInstalled(pluginsDir);
    expect(listed?.bundle).toBe(installed.bundle);
  });

  test("packed with its node_modules (npm's .bin link included) into a .tar.gz, it installs the same way", async () => {
    const src = pluginWithDependency();
    sh(["tar", "czf", "../shouter.tgz", "."], src);
    const pluginsDir = path.join(scratch(), "plugins");
    const installed = await installPlugin({ type: "archive", path: path.join(src, "../shouter.tgz") }, { pluginsDir, validate });
    expect(importInFreshBun(installed.bundle ?? "", 'm.greet("tar")')).toBe("HELLO TAR!");
  });

  test("without its node_modules it is refused (dependencies are never installed by the agent)", async () => {
    const src = path.join(scratch(), "shouter");
    fs.cpSync(path.join(TESTDATA, "ts-plugin"), src, { recursive: true });
    const pluginsDir = path.join(scratch(), "plugins");
    const error = await rejects(installPlugin({ type: "directory", path: src }, { pluginsDir, validate }));
    expect(error.message).toContain("bundling plugin shouter (src/index.ts) failed");
    expect(error.message).toContain("tiny-pkg");
    expect(await listInstalled(pluginsDir)).toEqual([]);
  });

  test("stavily/sdk stays an import, for the host to serve at run time", async () => {
    const src = pluginWithDependency();
    writeTree(src, {
      "src/index.ts": 'import { shout } from "tiny-pkg";\nimport { defineAction } from "stavily/sdk";\nexport default defineAction({ name: shout("sdk") });\n',
    });
    const installed = await installPlugin({ type: "directory", path: src }, { pluginsDir: path.join(scratch(), "plugins"), validate });
    const bundle = installed.bundle ?? "";
    expect(fs.readFileSync(bundle, "utf8")).toContain('from "stavily/sdk"');
    // As the worker does: the SDK is a virtual module.
    const script = `Bun.plugin({ setup(b) { b.module("stavily/sdk", () => ({ loader: "object", exports: { defineAction: (x) => x } })); } });
      const m = await import(${JSON.stringify(bundle)}); console.log(m.default.name);`;
    expect(sh([process.execPath, "-e", script], scratch()).trim()).toBe("SDK!");
  });

  test("a plugin without npm dependencies is installed as it is", async () => {
    const src = writeTree(scratch(), {
      "plugin.yaml": "id: plain\nversion: 1.0.0\nentry: index.ts\n",
      "index.ts": "export const x = 1;\n",
      "package.json": '{"name":"plain","devDependencies":{"typescript":"*"}}',
    });
    const installed = await installPlugin({ type: "directory", path: src }, { pluginsDir: path.join(scratch(), "plugins"), validate });
    expect(installed.bundle).toBeUndefined();
  });
});

test("inside a compiled executable, bundling works too (the binary re-executes itself as bun)", async () => {
  const out = scratch();
  const binary = path.join(out, "compiled-install");
  sh([process.execPath, "build", "--compile", path.join(TESTDATA, "compiled-install.ts"), "--outfile", binary], out);
  const src = pluginWithDependency();
  const pluginsDir = path.join(scratch(), "plugins");
  const installed = JSON.parse(sh([binary, src, pluginsDir], out)) as { bundle?: string };
  expect(installed.bundle).toBeString();
  expect(importInFreshBun(installed.bundle ?? "", 'm.greet("binary")')).toBe("HELLO BINARY!");
});

describe("bundling cannot be used to run code or read files at install time", () => {
  function pluginWith(files: Record<string, string>): string {
    const dir = pluginWithDependency();
    writeTree(dir, files);
    return dir;
  }

  test("a macro import is refused and never runs", async () => {
    const marker = path.join(scratch(), "MACRO-RAN");
    const src = pluginWith({
      "src/macro.ts": `import fs from "node:fs";\nexport function run() { fs.writeFileSync(${JSON.stringify(marker)}, "x"); return 1; }\n`,
      "src/index.ts": 'import { run } from "./macro.ts" with { type: "macro" };\nexport const ran = run();\n',
    });
    const error = await rejects(installPlugin({ type: "directory", path: src }, { pluginsDir: path.join(scratch(), "plugins"), validate }));
    expect(error.message).toContain("Macros are disabled");
    expect(fs.existsSync(marker)).toBe(false);
  });

  test("a file from outside the plugin cannot be pulled into the bundle", async () => {
    const secret = writeTree(scratch(), { "secret.txt": "host secret" });
    const src = pluginWith({
      "src/index.ts": `import secret from ${JSON.stringify(path.join(secret, "secret.txt"))} with { type: "text" };\nexport const s = secret;\n`,
    });
    const pluginsDir = path.join(scratch(), "plugins");
    const error = await rejects(installPlugin({ type: "directory", path: src }, { pluginsDir, validate }));
    expect(error.message).toContain("which is outside the plugin; refused");
    expect(await listInstalled(pluginsDir)).toEqual([]);
  });
});
