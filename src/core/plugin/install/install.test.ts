import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { StavilyError } from "../../errors.ts";
import { type InstallOptions, type InstallSource, installPlugin, listInstalled, remove, rollback } from "./index.ts";
import { lockPlugin } from "./_lock.ts";
import { gitCommit, gzip, pluginFiles, sh, sha256, startServer, type TestServer, tar, validate, writeTree } from "./_testkit.ts";
import { tempDirs } from "../../../../test/support/temp.ts";

let server: TestServer;
beforeAll(() => {
  server = startServer();
});
afterAll(() => server.stop());

const temp = tempDirs("stavily-install-");
afterEach(() => temp.cleanup());
const scratch = () => temp.make();

function setup(): { pluginsDir: string; options: InstallOptions } {
  const pluginsDir = path.join(scratch(), "plugins");
  return { pluginsDir, options: { pluginsDir, validate } };
}

/** A .tar.gz of a plugin (inside a top-level directory, as release archives are) made with the tar CLI. */
function tarball(id: string, version: string): Uint8Array {
  const src = writeTree(scratch(), Object.fromEntries(Object.entries(pluginFiles(id, version)).map(([k, v]) => [`${id}-${version}/${k}`, v])));
  sh(["tar", "czf", "p.tgz", `${id}-${version}`], src);
  return fs.readFileSync(path.join(src, "p.tgz"));
}

async function rejects(promise: Promise<unknown>): Promise<StavilyError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StavilyError);
  expect((error as StavilyError).component).toBe("plugin");
  return error as StavilyError;
}

/** What the current version's entry exports, loaded the way a host would load it. */
async function loadedVersion(pluginsDir: string, id: string): Promise<string> {
  const [plugin] = (await listInstalled(pluginsDir)).filter((p) => p.id === id);
  if (plugin === undefined) throw new Error(`${id} is not installed`);
  const mod = (await import(path.join(plugin.dir, "index.ts"))) as { version: string };
  return mod.version;
}

function stagingIsEmpty(pluginsDir: string): boolean {
  const staging = path.join(pluginsDir, ".staging");
  return !fs.existsSync(staging) || fs.readdirSync(staging).length === 0;
}

describe("installing from each kind of source", () => {
  test("a local directory", async () => {
    const { pluginsDir, options } = setup();
    const src = writeTree(scratch(), pluginFiles("hello", "1.0.0"));
    const installed = await installPlugin({ type: "directory", path: src }, options);
    expect(installed).toMatchObject({ id: "hello", version: "1.0.0", previous: null, source: { type: "directory", path: src } });
    expect(installed.dir).toBe(path.join(pluginsDir, "hello", "versions", "1.0.0"));
    expect(await loadedVersion(pluginsDir, "hello")).toBe("1.0.0");
    const current = JSON.parse(fs.readFileSync(path.join(pluginsDir, "hello", "current"), "utf8"));
    expect(current).toMatchObject({ version: "1.0.0", previous: null, source: { type: "directory" } });
    expect(typeof current.installed_at).toBe("string");
    expect(stagingIsEmpty(pluginsDir)).toBe(true);
  });

  test("a local directory holding a link is refused", async () => {
    const { pluginsDir, options } = setup();
    const src = writeTree(scratch(), pluginFiles("hello", "1.0.0"));
    fs.symlinkSync("/etc/passwd", path.join(src, "passwd"));
    const error = await rejects(installPlugin({ type: "directory", path: src }, options));
    expect(error.message).toContain('entry "passwd": refused: symbolic link to "/etc/passwd"');
    expect(await listInstalled(pluginsDir)).toEqual([]);
  });

  test("a .tar.gz by path, with its sha256", async () => {
    const { pluginsDir, options } = setup();
    const file = path.join(scratch(), "hello.tar.gz");
    const bytes = tarball("hello", "1.0.0");
    fs.writeFileSync(file, bytes);
    const installed = await installPlugin({ type: "archive", path: file, sha256: sha256(bytes) }, options);
    expect(installed.source).toEqual({ type: "archive", path: file, sha256: sha256(bytes) });
    expect(await loadedVersion(pluginsDir, "hello")).toBe("1.0.0");
  });

  test("a .zip by path, made by the zip CLI", async () => {
    const { pluginsDir, options } = setup();
    const src = writeTree(scratch(), pluginFiles("zipped", "2.0.0"));
    sh(["zip", "-qr", "../p.zip", "."], src);
    await installPlugin({ type: "archive", path: path.join(src, "../p.zip") }, options);
    expect(await loadedVersion(pluginsDir, "zipped")).toBe("2.0.0");
  });

  test("a .tgz by URL, verified, through a redirect", async () => {
    const { pluginsDir, options } = setup();
    const bytes = tarball("fetched", "1.2.3");
    server.put("/files/fetched.tgz", bytes);
    server.redirect("/latest.tgz", "/files/fetched.tgz");
    const url = `${server.url}/latest.tgz?token=secret`;
    const installed = await installPlugin({ type: "archive_url", url, sha256: sha256(bytes).toUpperCase() }, options);
    expect(installed.source).toEqual({ type: "archive_url", url: `${server.url}/latest.tgz`, sha256: sha256(bytes), verified: true });
    expect(await loadedVersion(pluginsDir, "fetched")).toBe("1.2.3");
  });

  test("a git repository at a tag, and at a commit", async () => {
    const { pluginsDir, options } = setup();
    const repo = scratch();
    const first = gitCommit(repo, pluginFiles("gitted", "1.0.0"), "v1.0.0");
    const second = gitCommit(repo, pluginFiles("gitted", "1.1.0"));
    gitCommit(repo, pluginFiles("gitted", "1.2.0"));

    const atTag = await installPlugin({ type: "git", url: `file://${repo}`, ref: { kind: "tag", name: "v1.0.0" } }, options);
    expect(atTag.source).toEqual({ type: "git", url: `file://${repo}`, tag: "v1.0.0", commit: first });
    expect(await loadedVersion(pluginsDir, "gitted")).toBe("1.0.0");
    expect(fs.existsSync(path.join(atTag.dir, ".git"))).toBe(false);

    const atCommit = await installPlugin({ type: "git", url: repo, ref: { kind: "commit", name: second } }, options);
    expect(atCommit).toMatchObject({ version: "1.1.0", previous: "1.0.0", source: { commit: second } });
  });

  test("a git repository at a branch, from a sub_directory", async () => {
    const { pluginsDir, options } = setup();
    const repo = scratch();
    const files = Object.entries(pluginFiles("nested", "0.1.0")).map(([k, v]) => [`plugins/nested/${k}`, v]);
    gitCommit(repo, { "README.md": "monorepo\n", ...Object.fromEntries(files) });
    const source: InstallSource = { type: "git", url: repo, ref: { kind: "branch", name: "main" }, subDirectory: "plugins/nested" };
    const installed = await installPlugin(source, options);
    expect(installed.source).toMatchObject({ branch: "main", sub_directory: "plugins/nested" });
    expect(fs.existsSync(path.join(installed.dir, "README.md"))).toBe(false);
    expect(await loadedVersion(pluginsDir, "nested")).toBe("0.1.0");
  });

  test("a git repository holding a symlink is refused", async () => {
    const { pluginsDir, options } = setup();
    const repo = scratch();
    gitCommit(repo, pluginFiles("gitted", "1.0.0"));
    fs.symlinkSync("/etc/passwd", path.join(repo, "passwd"));
    const commit = gitCommit(repo, {});
    const error = await rejects(installPlugin({ type: "git", url: repo, ref: { kind: "commit", name: commit } }, options));
    expect(error.message).toContain('entry "passwd": refused: symbolic link to "/etc/passwd"');
    expect(await listInstalled(pluginsDir)).toEqual([]);
  });

  test("a git tag that does not exist fails with git's reason", async () => {
    const { options } = setup();
    const repo = scratch();
    gitCommit(repo, pluginFiles("gitted", "1.0.0"));
    const error = await rejects(installPlugin({ type: "git", url: repo, ref: { kind: "tag", name: "v9" } }, options));
    expect(error.message).toContain("git clone of");
    expect(error.message).toContain("v9");
  });
});

describe("checks before anything is installed", () => {
  test("a sha256 mismatch is refused, by path and by URL", async () => {
    const { pluginsDir, options } = setup();
    const bytes = tarball("hello", "1.0.0");
    const file = path.join(scratch(), "hello.tgz");
    fs.writeFileSync(file, bytes);
    const wrong = "0".repeat(64);
    expect((await rejects(installPlugin({ type: "archive", path: file, sha256: wrong }, options))).message).toContain("SHA-256 mismatch");
    server.put("/mismatch.tgz", bytes);
    const byUrl = installPlugin({ type: "archive_url", url: `${server.url}/mismatch.tgz`, sha256: wrong }, options);
    expect((await rejects(byUrl)).message).toContain("SHA-256 mismatch");
    expect(await listInstalled(pluginsDir)).toEqual([]);
    expect(stagingIsEmpty(pluginsDir)).toBe(true);
  });

  test("a refusal names the archive as it was given, never the deleted stage", async () => {
    const { pluginsDir, options } = setup();
    const evil = gzip(tar([{ name: "evil/plugin.yaml", data: "id: evil\n" }, { name: "evil/../../escaped.txt", data: "x" }]));
    server.put("/named.tgz", evil);
    const url = `${server.url}/named.tgz`;
    const byUrl = await rejects(installPlugin({ type: "archive_url", url, sha256: sha256(evil) }, options));
    expect(byUrl.message).toBe(`plugin archive ${url}: entry "evil/../../escaped.txt": refused: path traversal ("..")`);
    const file = path.join(scratch(), "named.tgz");
    fs.writeFileSync(file, evil);
    expect((await rejects(installPlugin({ type: "archive", path: file }, options))).message).toBe(
      `plugin archive ${file}: entry "evil/../../escaped.txt": refused: path traversal ("..")`,
    );
    const empty = gzip(tar([{ name: "empty/README", data: "no manifest here" }]));
    server.put("/empty.tgz", empty);
    const noManifest = await rejects(installPlugin({ type: "archive_url", url: `${server.url}/empty.tgz`, sha256: sha256(empty) }, options));
    expect(noManifest.message).toBe(`plugin manifest is not valid: no plugin.yaml in ${server.url}/empty.tgz: empty`);
    expect(noManifest.message).not.toContain(".staging");
    expect(stagingIsEmpty(pluginsDir)).toBe(true);
  });

  test("a URL without a checksum is refused unless allowUnverified", async () => {
    const { pluginsDir, options } = setup();
    server.put("/unverified.tgz", tarball("loose", "1.0.0"));
    const url = `${server.url}/unverified.tgz`;
    expect((await rejects(installPlugin({ type: "archive_url", url }, options))).message).toContain("a sha256 is required");
    const installed = await installPlugin({ type: "archive_url", url, allowUnverified: true }, options);
    expect(installed.source).toMatchObject({ verified: false });
    expect(await loadedVersion(pluginsDir, "loose")).toBe("1.0.0");
  });

  test("plain http to anything but loopback is refused, also as a redirect target", async () => {
    const { options } = setup();
    const direct = installPlugin({ type: "archive_url", url: "http://example.invalid/p.tgz", sha256: "0".repeat(64) }, options);
    expect((await rejects(direct)).message).toContain("must be an https URL");
    server.redirect("/downgrade.tgz", "http://example.invalid/p.tgz");
    const redirected = installPlugin({ type: "archive_url", url: `${server.url}/downgrade.tgz`, sha256: "0".repeat(64) }, options);
    expect((await rejects(redirected)).message).toContain("must be an https URL");
  });

  test("a download over the archive cap is stopped", async () => {
    const { options } = setup();
    server.put("/large.tgz", new Uint8Array(64 * 1024));
    const install = installPlugin(
      { type: "archive_url", url: `${server.url}/large.tgz`, allowUnverified: true },
      { ...options, limits: { maxArchiveBytes: 1024 } },
    );
    expect((await rejects(install)).message).toContain("is larger than 1024 bytes");
  });

  test("a download without a Content-Length is stopped at the cap while streaming", async () => {
    const { options } = setup();
    server.put("/chunked.tgz", new Uint8Array(64 * 1024), true);
    const install = installPlugin(
      { type: "archive_url", url: `${server.url}/chunked.tgz`, allowUnverified: true },
      { ...options, limits: { maxArchiveBytes: 10_000 } },
    );
    expect((await rejects(install)).message).toContain("is larger than 10000 bytes");
  });

  test("a download that does not finish in time is abandoned", async () => {
    const { options } = setup();
    server.hang("/slow.tgz");
    const install = installPlugin(
      { type: "archive_url", url: `${server.url}/slow.tgz`, allowUnverified: true },
      { ...options, limits: { downloadTimeoutMs: 200 } },
    );
    expect((await rejects(install)).message).toContain("did not finish within 200 ms");
  });

  test("a manifest id other than the instruction's is refused", async () => {
    const { options } = setup();
    const src = writeTree(scratch(), pluginFiles("other", "1.0.0"));
    const error = await rejects(installPlugin({ type: "directory", path: src }, { ...options, expectedId: "hello" }));
    expect(error.message).toContain("the source holds plugin other, not hello");
  });

  test("an id that is not a safe directory name is refused", async () => {
    const { options } = setup();
    const src = writeTree(scratch(), pluginFiles("../escape", "1.0.0"));
    expect((await rejects(installPlugin({ type: "directory", path: src }, options))).message).toContain('plugin id "../escape"');
  });

  test("a sub_directory that climbs out of the source is refused", async () => {
    const { options } = setup();
    const src = writeTree(scratch(), pluginFiles("hello", "1.0.0"));
    const install = installPlugin({ type: "directory", path: src, subDirectory: "../" }, options);
    expect((await rejects(install)).message).toContain("path traversal");
  });
});

describe("updates, rollback and removal", () => {
  async function installDir(options: InstallOptions, id: string, version: string, extra: Record<string, string> = {}) {
    return installPlugin({ type: "directory", path: writeTree(scratch(), pluginFiles(id, version, extra)) }, options);
  }

  test("an update keeps the previous version; rollback swaps them; older versions are pruned", async () => {
    const { pluginsDir, options } = setup();
    await installDir(options, "hello", "1.0.0");
    const second = await installDir(options, "hello", "2.0.0");
    expect(second).toMatchObject({ version: "2.0.0", previous: "1.0.0" });
    expect(await loadedVersion(pluginsDir, "hello")).toBe("2.0.0");

    const back = await rollback(pluginsDir, "hello");
    expect(back).toMatchObject({ version: "1.0.0", previous: "2.0.0" });
    expect(back.source).toMatchObject({ type: "directory" });
    const again = await rollback(pluginsDir, "hello");
    expect(again).toMatchObject({ version: "2.0.0", previous: "1.0.0" });

    await installDir(options, "hello", "3.0.0");
    expect(fs.readdirSync(path.join(pluginsDir, "hello", "versions")).sort()).toEqual(["2.0.0", "3.0.0"]);
  });

  test("a failed update leaves the old version current and its files untouched", async () => {
    const { pluginsDir, options } = setup();
    await installDir(options, "hello", "1.0.0");
    const before = fs.readFileSync(path.join(pluginsDir, "hello", "current"), "utf8");

    // A broken manifest, a refused archive, and a validator that throws: each fails at a different step.
    const broken = writeTree(scratch(), { "plugin.yaml": "id: hello\n" });
    await rejects(installPlugin({ type: "directory", path: broken }, options));
    const evil = path.join(scratch(), "evil.tgz");
    fs.writeFileSync(evil, gzip(tar([{ name: "plugin.yaml", data: "id: hello\nversion: 2.0.0\n" }, { name: "../evil", data: "x" }])));
    await rejects(installPlugin({ type: "archive", path: evil }, options));
    const failing: InstallOptions = { ...options, validate: () => Promise.reject(new Error("manifest says no")) };
    expect((await rejects(installDir(failing, "hello", "2.0.0"))).message).toContain("manifest says no");

    expect(fs.readFileSync(path.join(pluginsDir, "hello", "current"), "utf8")).toBe(before);
    expect(fs.readdirSync(path.join(pluginsDir, "hello", "versions"))).toEqual(["1.0.0"]);
    expect(await loadedVersion(pluginsDir, "hello")).toBe("1.0.0");
    expect(stagingIsEmpty(pluginsDir)).toBe(true);
  });

  test("installing the current version again is refused unless replace", async () => {
    const { pluginsDir, options } = setup();
    await installDir(options, "hello", "1.0.0");
    expect((await rejects(installDir(options, "hello", "1.0.0"))).message).toContain("already installed");
    await installDir({ ...options, replace: true }, "hello", "1.0.0", { "extra.txt": "new" });
    const [plugin] = await listInstalled(pluginsDir);
    expect(fs.readFileSync(path.join(plugin?.dir ?? "", "extra.txt"), "utf8")).toBe("new");
  });

  test("while another task holds a plugin's lock, changes to it are refused at once and change nothing", async () => {
    const { pluginsDir, options } = setup();
    await installDir(options, "hello", "1.0.0");
    await installDir(options, "hello", "2.0.0");
    const unlock = lockPlugin(pluginsDir, "hello");
    try {
      const changes = [() => installDir(options, "hello", "3.0.0"), () => rollback(pluginsDir, "hello"), () => remove(pluginsDir, "hello")];
      for (const change of changes) {
        expect((await rejects(change())).message).toContain("plugin hello is being installed, updated or removed by another task");
      }
      expect(fs.readdirSync(path.join(pluginsDir, "hello", "versions")).sort()).toEqual(["1.0.0", "2.0.0"]);
    } finally {
      unlock();
    }
    expect(await rollback(pluginsDir, "hello")).toMatchObject({ version: "1.0.0" });
    expect(stagingIsEmpty(pluginsDir)).toBe(true);
  });

  test("rollback without a previous version is refused", async () => {
    const { pluginsDir, options } = setup();
    await installDir(options, "hello", "1.0.0");
    expect((await rejects(rollback(pluginsDir, "hello"))).message).toContain("no previous version is kept");
    expect((await rejects(rollback(pluginsDir, "absent"))).message).toContain("it is not installed");
  });

  test("remove uninstalls one plugin and leaves the others", async () => {
    const { pluginsDir, options } = setup();
    await installDir(options, "a", "1.0.0");
    await installDir(options, "b", "1.0.0");
    expect((await listInstalled(pluginsDir)).map((p) => p.id)).toEqual(["a", "b"]);
    expect(await remove(pluginsDir, "a")).toBe(true);
    expect(await remove(pluginsDir, "a")).toBe(false);
    expect((await listInstalled(pluginsDir)).map((p) => p.id)).toEqual(["b"]);
    expect(fs.existsSync(path.join(pluginsDir, "a"))).toBe(false);
  });
});
