/**
 * file-operations through the real path an instruction takes (built-in manifest, local config
 * validated against it, the host's launch, a real worker) on real files in temp directories.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { ConfigSchema as AgentConfigSchema } from "../../../src/core/config/index.ts";
import { agentHomePaths } from "../../../src/core/home/index.ts";
import { assertPluginConfig, parseBuiltinManifest, pluginConfigSchema, toLaunch } from "../../../src/core/plugin/manifest/index.ts";
import type { ActionResult } from "../../../src/core/plugin/types.ts";
import { createWorkerInstance } from "../../../src/core/plugin/worker/index.ts";
import { instances, recordingLogger, request, tempDirs, within } from "../../../src/core/plugin/worker/_test-support.ts";
import { BUILTIN_PLUGINS } from "../../all.ts";
import { ConfigSchema } from "./_config.ts";

const temp = tempDirs();
const running = instances();
afterEach(async () => {
  await running.cleanup();
  temp.cleanup();
});

const ID = "file-operations";
const manifest = () => parseBuiltinManifest(ID, BUILTIN_PLUGINS[ID]!.manifest);

/** A home with `allowed` (configured) and `outside` (not), and links from one to the other. */
function layout() {
  const base = realpathSync(temp.make());
  const allowed = join(base, "allowed");
  const outside = join(base, "outside");
  mkdirSync(join(allowed, "dir"), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(allowed, "a.txt"), "alpha");
  writeFileSync(join(outside, "secret.txt"), "secret");
  symlinkSync(outside, join(allowed, "escape"));
  symlinkSync(join(outside, "secret.txt"), join(allowed, "secret-link.txt"));
  return { base, allowed, outside };
}

/** Starts the plugin as the host would, with `local` as plugins.config.file-operations. */
async function start(base: string, local: Record<string, unknown>) {
  const config = assertPluginConfig(manifest(), local, `plugins.config.${ID}`);
  const sandbox = v.parse(AgentConfigSchema, {}).security.sandbox;
  const agent = { id: "action-1", type: "action" as const, name: "test", environment: "test", tags: [] };
  const launch = toLaunch(manifest(), { home: agentHomePaths(join(base, "home"), agent.id), agent, instance: ID, config, sandbox });
  mkdirSync(launch.workDir, { recursive: true });
  const instance = running.track(createWorkerInstance(launch, { logger: recordingLogger() }));
  await instance.start(within());
  return (parameters: Record<string, unknown>) => instance.execute(request("execute", parameters), within(15_000));
}

async function setup(local: Record<string, unknown> = {}) {
  const dirs = layout();
  return { ...dirs, run: await start(dirs.base, { allowed_paths: [dirs.allowed], ...local }) };
}

/** Checked by hand: Bun's toMatchObject with a nested asymmetric matcher overwrites the received value. */
function expectFailure(result: ActionResult, code: string, message?: RegExp): void {
  expect({ status: result.status, code: result.error?.code }).toEqual({ status: "failed", code });
  if (message) expect(result.error?.message).toMatch(message);
}

const mode = (path: string) => statSync(path).mode & 0o7777;
const leftovers = (dir: string) => readdirSync(dir).filter((name) => name.includes(".stavily-"));

describe("write", () => {
  test("creates a file atomically, then replaces it with a new inode and keeps its mode", async () => {
    const { run, allowed } = await setup();
    const file = join(allowed, "config.ini");
    expect(await run({ operation: "write", path: file, content: "v=1\n" })).toEqual({
      status: "completed",
      data: { operation: "write", path: file, bytes: 4, created: true, mode: "0644" },
    });
    expect(mode(file)).toBe(0o644);
    chmodSync(file, 0o600);
    linkSync(file, join(allowed, "old-inode"));
    expect(await run({ operation: "write", path: file, content: "djI=", encoding: "base64" })).toMatchObject({ status: "completed", data: { created: false, mode: "0600" } });
    // Written under a temporary name and renamed: the old inode still has the old content.
    expect(readFileSync(file, "utf8")).toBe("v2");
    expect(readFileSync(join(allowed, "old-inode"), "utf8")).toBe("v=1\n");
    expect(mode(file)).toBe(0o600);
    expect(leftovers(allowed)).toEqual([]);
  });

  test("mode, overwrite: false, and parents", async () => {
    const { run, allowed } = await setup();
    expect(await run({ operation: "write", path: join(allowed, "x", "y", "f"), content: "f", parents: true, mode: "0640" })).toMatchObject({ status: "completed", data: { mode: "0640" } });
    expect(mode(join(allowed, "x", "y", "f"))).toBe(0o640);
    expectFailure(await run({ operation: "write", path: join(allowed, "a.txt"), content: "new", overwrite: false }), "already_exists");
    expect(readFileSync(join(allowed, "a.txt"), "utf8")).toBe("alpha");
    expectFailure(await run({ operation: "write", path: join(allowed, "none", "f"), content: "f" }), "not_found");
  });

  test("a symlink at the path is replaced, never written through", async () => {
    const { run, allowed, outside } = await setup();
    expect(await run({ operation: "write", path: join(allowed, "secret-link.txt"), content: "mine" })).toMatchObject({ status: "completed" });
    expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe("secret");
    expect(lstatSync(join(allowed, "secret-link.txt")).isFile()).toBe(true);
  });

  test("refuses paths outside, traversal, symlinked directories, setuid modes and oversized content", async () => {
    const { run, allowed, outside } = await setup({ max_write_size: 10 });
    for (const path of [join(outside, "x"), join(allowed, "..", "outside", "x"), join(allowed, "escape", "x"), "/etc/stavily-test"]) {
      expectFailure(await run({ operation: "write", path, content: "x" }), "permission_denied", /outside allowed_paths/);
    }
    expectFailure(await run({ operation: "write", path: join(allowed, "escape", "new", "x"), content: "x", parents: true }), "permission_denied", /resolves to/);
    expectFailure(await run({ operation: "write", path: join(allowed, "s"), content: "x", mode: "4755" }), "permission_denied", /setuid and setgid/);
    expectFailure(await run({ operation: "write", path: join(allowed, "s"), content: "x", mode: "2755" }), "permission_denied", /setuid and setgid/);
    expectFailure(await run({ operation: "write", path: join(allowed, "big"), content: "12345678901" }), "invalid_parameters", /^invalid parameter content: 11 bytes/);
    expect(readdirSync(outside)).toEqual(["secret.txt"]);
    expect(existsSync(join(allowed, "s")) || existsSync(join(allowed, "big"))).toBe(false);
  });

  test("with the default config only the plugin's work dir is writable", async () => {
    const { base, allowed } = layout();
    const run = await start(base, {});
    expectFailure(await run({ operation: "write", path: join(allowed, "x"), content: "x" }), "permission_denied", /none configured/);
  });
});

describe("copy", () => {
  test("a file, atomically, without setuid/setgid bits", async () => {
    const { run, allowed } = await setup();
    chmodSync(join(allowed, "a.txt"), 0o4755);
    expect(await run({ operation: "copy", source: join(allowed, "a.txt"), destination: join(allowed, "dir", "b.txt") })).toEqual({
      status: "completed",
      data: { operation: "copy", source: join(allowed, "a.txt"), destination: join(allowed, "dir", "b.txt"), type: "file", bytes: 5 },
    });
    expect(readFileSync(join(allowed, "dir", "b.txt"), "utf8")).toBe("alpha");
    expect(mode(join(allowed, "dir", "b.txt"))).toBe(0o755);
    expectFailure(await run({ operation: "copy", source: join(allowed, "a.txt"), destination: join(allowed, "dir", "b.txt") }), "already_exists");
    writeFileSync(join(allowed, "a.txt"), "changed");
    expect(await run({ operation: "copy", source: join(allowed, "a.txt"), destination: join(allowed, "dir", "b.txt"), overwrite: true })).toMatchObject({ status: "completed" });
    expect(readFileSync(join(allowed, "dir", "b.txt"), "utf8")).toBe("changed");
    expect(leftovers(join(allowed, "dir"))).toEqual([]);
  });

  test("a directory tree with recursive: true; never one holding a symlink", async () => {
    const { run, allowed } = await setup();
    writeFileSync(join(allowed, "dir", "one"), "1");
    mkdirSync(join(allowed, "dir", "sub"));
    writeFileSync(join(allowed, "dir", "sub", "two"), "22");
    expectFailure(await run({ operation: "copy", source: join(allowed, "dir"), destination: join(allowed, "copy") }), "invalid_parameters", /^invalid parameter recursive:/);
    expect(await run({ operation: "copy", source: join(allowed, "dir"), destination: join(allowed, "copy"), recursive: true })).toMatchObject({ status: "completed", data: { type: "directory", bytes: 3 } });
    expect(readFileSync(join(allowed, "copy", "sub", "two"), "utf8")).toBe("22");
    expectFailure(await run({ operation: "copy", source: join(allowed, "dir"), destination: join(allowed, "dir", "sub", "inner"), recursive: true }), "invalid_parameters", /inside the source/);
    symlinkSync("/etc/passwd", join(allowed, "dir", "sub", "link"));
    expectFailure(await run({ operation: "copy", source: join(allowed, "dir"), destination: join(allowed, "copy2"), recursive: true }), "permission_denied", /a symlink/);
    expect(existsSync(join(allowed, "copy2"))).toBe(false);
    expect(leftovers(allowed)).toEqual([]);
  });

  test("refuses sources and destinations outside, directly or through a symlink", async () => {
    const { run, allowed, outside } = await setup();
    expectFailure(await run({ operation: "copy", source: join(outside, "secret.txt"), destination: join(allowed, "s") }), "permission_denied", /source/);
    expectFailure(await run({ operation: "copy", source: join(allowed, "secret-link.txt"), destination: join(allowed, "s") }), "permission_denied", /resolves to/);
    expectFailure(await run({ operation: "copy", source: join(allowed, "a.txt"), destination: join(allowed, "escape", "a.txt") }), "permission_denied", /destination/);
    expectFailure(await run({ operation: "copy", source: join(allowed, "a.txt"), destination: join(outside, "a.txt") }), "permission_denied", /destination/);
    expect(readdirSync(outside)).toEqual(["secret.txt"]);
    expect(existsSync(join(allowed, "s"))).toBe(false);
  });
});

describe("move", () => {
  test("files and directories; existing destinations only with overwrite", async () => {
    const { run, allowed } = await setup();
    expect(await run({ operation: "move", source: join(allowed, "a.txt"), destination: join(allowed, "dir", "a.txt") })).toMatchObject({ status: "completed", data: { type: "file" } });
    expect(existsSync(join(allowed, "a.txt"))).toBe(false);
    writeFileSync(join(allowed, "b.txt"), "beta");
    expectFailure(await run({ operation: "move", source: join(allowed, "b.txt"), destination: join(allowed, "dir", "a.txt") }), "already_exists");
    expect(readFileSync(join(allowed, "b.txt"), "utf8")).toBe("beta");
    expect(await run({ operation: "move", source: join(allowed, "b.txt"), destination: join(allowed, "dir", "a.txt"), overwrite: true })).toMatchObject({ status: "completed" });
    expect(readFileSync(join(allowed, "dir", "a.txt"), "utf8")).toBe("beta");
    expect(await run({ operation: "move", source: join(allowed, "dir"), destination: join(allowed, "new", "dir"), parents: true })).toMatchObject({ status: "completed", data: { type: "directory" } });
    expect(readFileSync(join(allowed, "new", "dir", "a.txt"), "utf8")).toBe("beta");
  });

  test("refuses moving out, moving in from outside, and moving an allowed path itself", async () => {
    const { run, allowed, outside } = await setup();
    expectFailure(await run({ operation: "move", source: join(allowed, "a.txt"), destination: join(outside, "a.txt") }), "permission_denied");
    expectFailure(await run({ operation: "move", source: join(allowed, "a.txt"), destination: join(allowed, "escape", "a.txt") }), "permission_denied");
    expectFailure(await run({ operation: "move", source: join(outside, "secret.txt"), destination: join(allowed, "s") }), "permission_denied");
    expectFailure(await run({ operation: "move", source: join(allowed, "escape", "secret.txt"), destination: join(allowed, "s") }), "permission_denied");
    expectFailure(await run({ operation: "move", source: allowed, destination: join(allowed, "dir", "x") }), "permission_denied", /allowed path itself/);
    expect(readdirSync(outside)).toEqual(["secret.txt"]);
    expect(readFileSync(join(allowed, "a.txt"), "utf8")).toBe("alpha");
  });
});

describe("delete", () => {
  test("files; a symlink itself, never its target", async () => {
    const { run, allowed, outside } = await setup();
    expect(await run({ operation: "delete", path: join(allowed, "a.txt") })).toMatchObject({ status: "completed", data: { deleted: true, type: "file" } });
    expect(await run({ operation: "delete", path: join(allowed, "secret-link.txt") })).toMatchObject({ status: "completed", data: { type: "symlink" } });
    expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe("secret");
    expectFailure(await run({ operation: "delete", path: join(allowed, "a.txt") }), "not_found");
    expect(await run({ operation: "delete", path: join(allowed, "a.txt"), missing_ok: true })).toMatchObject({ status: "completed", data: { deleted: false } });
  });

  test("directory trees only with recursive and allow_recursive_delete", async () => {
    const { run, allowed } = await setup();
    writeFileSync(join(allowed, "dir", "f"), "f");
    expectFailure(await run({ operation: "delete", path: join(allowed, "dir") }), "not_empty");
    expectFailure(await run({ operation: "delete", path: join(allowed, "dir"), recursive: true }), "permission_denied", /allow_recursive_delete/);
    expect(existsSync(join(allowed, "dir", "f"))).toBe(true);
    const lenient = await setup({ allow_recursive_delete: true });
    symlinkSync(lenient.outside, join(lenient.allowed, "dir", "out"));
    expect(await lenient.run({ operation: "delete", path: join(lenient.allowed, "dir"), recursive: true })).toMatchObject({ status: "completed", data: { type: "directory" } });
    expect(existsSync(join(lenient.allowed, "dir"))).toBe(false);
    expect(readFileSync(join(lenient.outside, "secret.txt"), "utf8")).toBe("secret");
  });

  test("refuses outside paths, traversal, paths through a symlink, and an allowed path itself", async () => {
    const { run, allowed, outside } = await setup({ allow_recursive_delete: true });
    expectFailure(await run({ operation: "delete", path: join(outside, "secret.txt") }), "permission_denied");
    expectFailure(await run({ operation: "delete", path: join(allowed, "..", "outside", "secret.txt") }), "permission_denied");
    expectFailure(await run({ operation: "delete", path: join(allowed, "escape", "secret.txt") }), "permission_denied", /resolves to/);
    expectFailure(await run({ operation: "delete", path: allowed, recursive: true }), "permission_denied", /allowed path itself/);
    expectFailure(await run({ operation: "delete", path: "/" }), "permission_denied");
    expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe("secret");
  });
});

describe("mkdir", () => {
  test("with parents and an exact mode; an existing directory is fine", async () => {
    const { run, allowed } = await setup();
    const dir = join(allowed, "p", "q");
    expectFailure(await run({ operation: "mkdir", path: dir }), "not_found");
    expect(await run({ operation: "mkdir", path: dir, parents: true, mode: "0750" })).toEqual({ status: "completed", data: { operation: "mkdir", path: dir, created: true, mode: "0750" } });
    expect(mode(dir)).toBe(0o750);
    expect(await run({ operation: "mkdir", path: dir })).toMatchObject({ status: "completed", data: { created: false } });
    expectFailure(await run({ operation: "mkdir", path: join(allowed, "a.txt") }), "wrong_type");
  });

  test("refuses outside and through a symlink", async () => {
    const { run, allowed, outside } = await setup();
    expectFailure(await run({ operation: "mkdir", path: join(outside, "d") }), "permission_denied");
    expectFailure(await run({ operation: "mkdir", path: join(allowed, "escape", "d", "e"), parents: true }), "permission_denied");
    expectFailure(await run({ operation: "mkdir", path: join(allowed, "s"), mode: "6755" }), "permission_denied", /setuid/);
    expect(readdirSync(outside)).toEqual(["secret.txt"]);
  });
});

describe("chmod", () => {
  test("sets the mode and reports the previous one; follows a symlink that stays inside", async () => {
    const { run, allowed } = await setup();
    chmodSync(join(allowed, "a.txt"), 0o644);
    expect(await run({ operation: "chmod", path: join(allowed, "a.txt"), mode: "0600" })).toEqual({
      status: "completed",
      data: { operation: "chmod", path: join(allowed, "a.txt"), mode: "0600", previous_mode: "0644" },
    });
    expect(mode(join(allowed, "a.txt"))).toBe(0o600);
    symlinkSync(join(allowed, "a.txt"), join(allowed, "inner-link"));
    expect(await run({ operation: "chmod", path: join(allowed, "inner-link"), mode: "640" })).toMatchObject({ status: "completed", data: { path: join(allowed, "a.txt") } });
    expect(mode(join(allowed, "a.txt"))).toBe(0o640);
  });

  test("refuses setuid/setgid bits, and targets outside (also through a symlink)", async () => {
    const { run, allowed, outside } = await setup();
    for (const bits of ["4755", "2755", "6755", "04700"]) {
      expectFailure(await run({ operation: "chmod", path: join(allowed, "a.txt"), mode: bits }), "permission_denied", /setuid and setgid/);
    }
    const before = mode(join(outside, "secret.txt"));
    expectFailure(await run({ operation: "chmod", path: join(allowed, "secret-link.txt"), mode: "0777" }), "permission_denied", /resolves to/);
    expectFailure(await run({ operation: "chmod", path: join(outside, "secret.txt"), mode: "0777" }), "permission_denied");
    expect(mode(join(outside, "secret.txt"))).toBe(before);
  });
});

describe("parameters", () => {
  test("bad ones fail naming the field; bounds cannot be sent by an instruction", async () => {
    const { run, allowed } = await setup();
    expectFailure(await run({ path: join(allowed, "x") }), "invalid_parameters", /^invalid parameter operation:/);
    expectFailure(await run({ operation: "format", path: join(allowed, "x") }), "invalid_parameters", /^invalid parameter operation:/);
    expectFailure(await run({ operation: "write", path: "relative/x", content: "x" }), "invalid_parameters", /^invalid parameter path: expected an absolute path/);
    expectFailure(await run({ operation: "write", path: join(allowed, "x") }), "invalid_parameters", /^invalid parameter content:/);
    expectFailure(await run({ operation: "chmod", path: join(allowed, "a.txt"), mode: 644 }), "invalid_parameters", /^invalid parameter mode:/);
    expectFailure(await run({ operation: "chmod", path: join(allowed, "a.txt"), mode: "0999" }), "invalid_parameters", /^invalid parameter mode:/);
    expectFailure(await run({ operation: "delete", path: join(allowed, "a.txt"), force: true }), "invalid_parameters", /^invalid parameter force: unknown/);
    expectFailure(await run({ operation: "write", path: join(allowed, "x"), content: "x", encoding: "base64" }), "invalid_parameters", /^invalid parameter content: not valid base64/);
    for (const [key, value] of Object.entries({ allowed_paths: ["/"], allow_recursive_delete: true, max_write_size: 1e12 })) {
      expectFailure(await run({ operation: "delete", path: join(allowed, "a.txt"), [key]: value }), "invalid_parameters", new RegExp(`^invalid parameter ${key}: set only by the agent's local configuration`));
    }
    expect(readFileSync(join(allowed, "a.txt"), "utf8")).toBe("alpha");
  });
});

test("plugin.yaml and the plugin's config schema agree on every field and default", () => {
  const fromManifest = v.parse(pluginConfigSchema(manifest()), {});
  const fromPlugin = v.parse(ConfigSchema, {});
  expect(fromPlugin).toEqual(fromManifest as typeof fromPlugin);
  expect(Object.keys(manifest().configuration).sort()).toEqual(Object.keys(fromPlugin).sort());
});
