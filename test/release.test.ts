/**
 * scripts/release.ts and deployments/install.sh: a linux-x64 release (built, or from $STAVILY_BINARY to
 * save the build) read back with the agent's own archive readers, the same bytes on a second run, a zip
 * for Windows, and install.sh putting it under a --root, refusing a corrupted archive.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readTar } from "../src/core/plugin/install/_tar.ts";
import { readZip } from "../src/core/plugin/install/_zip.ts";
import type { ArchiveEntry } from "../src/core/plugin/install/_archive.ts";
import pkg from "../package.json" with { type: "json" };
import { hostBinary } from "./support/binary.ts";
import { repoRoot } from "./support/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "stavily-release-"));
const bindir = join(dir, "bin");
const outdir = join(dir, "release");
const archive = `stavily-${pkg.version}-linux-x64.tar.gz`;
const SOURCE_DATE_EPOCH = "1700000000";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string[], env: Record<string, string> = {}, cwd = repoRoot): Run {
  const result = Bun.spawnSync(command, { cwd, env: { PATH: process.env.PATH!, HOME: dir, ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

const releaseScript = (...args: string[]) => run([process.execPath, "scripts/release.ts", ...args], { SOURCE_DATE_EPOCH });
const sha256 = (file: string) => new Bun.CryptoHasher("sha256").update(readFileSync(file)).digest("hex");

async function entries(source: AsyncIterable<ArchiveEntry>): Promise<Map<string, { kind: string; mode: number; data: Buffer }>> {
  const found = new Map<string, { kind: string; mode: number; data: Buffer }>();
  for await (const entry of source) {
    const chunks: Uint8Array[] = [];
    for await (const chunk of entry.body()) chunks.push(chunk);
    found.set(entry.name, { kind: entry.kind, mode: entry.mode, data: Buffer.concat(chunks) });
  }
  return found;
}

beforeAll(async () => {
  mkdirSync(bindir);
  // With STAVILY_BINARY (CI built it already) the release archives that binary; otherwise it builds.
  const prebuilt = process.env.STAVILY_BINARY ? await hostBinary() : undefined;
  if (prebuilt) copyFileSync(prebuilt, join(bindir, "stavily-linux-x64"));
  const result = releaseScript("--target", "linux-x64", "--bindir", bindir, "--outdir", outdir, ...(prebuilt ? ["--no-build"] : []));
  if (result.code !== 0) throw new Error(`release failed (${result.code}):\n${result.stdout}${result.stderr}`);
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("scripts/release.ts", () => {
  test("a .tar.gz holding the executable, README, LICENSE and example configs; SHA256SUMS beside it", async () => {
    const sums = readFileSync(join(outdir, "SHA256SUMS"), "utf8");
    expect(sums).toBe(`${sha256(join(outdir, "install.sh"))}  install.sh\n${sha256(join(outdir, archive))}  ${archive}\n`);
    expect(statSync(join(outdir, "install.sh")).mode & 0o777).toBe(0o755);

    const file = join(outdir, archive);
    const found = await entries(readTar(file, Bun.file(file).stream().pipeThrough(new DecompressionStream("gzip"))));
    const top = archive.replace(".tar.gz", "");
    expect([...found.keys()]).toEqual([`${top}/`, `${top}/LICENSE`, `${top}/README.md`, `${top}/config/`, `${top}/config/action.yaml`, `${top}/config/sensor.yaml`, `${top}/stavily`]);
    expect(found.get(`${top}/stavily`)!.mode).toBe(0o755);
    expect(found.get(`${top}/README.md`)!.mode).toBe(0o644);
    expect(found.get(`${top}/stavily`)!.data.equals(readFileSync(join(bindir, "stavily-linux-x64")))).toBe(true);
    expect(found.get(`${top}/LICENSE`)!.data.toString()).toContain("Apache License\n                           Version 2.0, January 2004");
    expect(found.get(`${top}/config/sensor.yaml`)!.data.equals(readFileSync(join(repoRoot, "deployments/config/sensor.yaml")))).toBe(true);

    // GNU tar, where there is one, agrees on names, owners and the fixed time.
    const listing = Bun.which("tar") ? run(["tar", "-tvzf", file], { TZ: "UTC" }) : undefined;
    if (listing?.stdout.includes("root/root")) expect(listing.stdout).toContain(`-rwxr-xr-x root/root ${readFileSync(join(bindir, "stavily-linux-x64")).length} 2023-11-14 22:13 ${top}/stavily`);
  });

  test("the same inputs give the same bytes, and the release directory is replaced as a whole", () => {
    const before = sha256(join(outdir, archive));
    writeFileSync(join(outdir, "stale-file"), "from an older release");
    const again = releaseScript("--target", "linux-x64", "--bindir", bindir, "--outdir", outdir, "--no-build");
    expect(again.code).toBe(0);
    expect(sha256(join(outdir, archive))).toBe(before);
    expect(existsSync(join(outdir, "stale-file"))).toBe(false);
  }, 120_000);

  test("a .zip for Windows, read back by the zip reader", async () => {
    const winBin = join(dir, "winbin");
    const winOut = join(dir, "winrelease");
    mkdirSync(winBin);
    const exe = new Uint8Array(200_000).map((_, i) => (i * 31) % 251);
    writeFileSync(join(winBin, "stavily-windows-x64.exe"), exe);
    const result = releaseScript("--target", "windows-x64", "--bindir", winBin, "--outdir", winOut, "--no-build");
    expect(result.code).toBe(0);
    const name = `stavily-${pkg.version}-windows-x64.zip`;
    const found = await entries(readZip(join(winOut, name), 100));
    const top = name.replace(".zip", "");
    expect([...found.keys()]).toEqual([`${top}/`, `${top}/LICENSE`, `${top}/README.md`, `${top}/config/`, `${top}/config/action.yaml`, `${top}/config/sensor.yaml`, `${top}/stavily.exe`]);
    expect(found.get(`${top}/`)!.kind).toBe("directory");
    expect(found.get(`${top}/stavily.exe`)!.data.equals(Buffer.from(exe))).toBe(true);
    expect(found.get(`${top}/stavily.exe`)!.mode).toBe(0o755);
    expect(found.get(`${top}/README.md`)!.data.equals(readFileSync(join(repoRoot, "README.md")))).toBe(true);
    if (Bun.which("unzip")) expect(run(["unzip", "-tq", join(winOut, name)]).stdout).toContain("No errors detected");
  });

  test("an unknown target or a missing binary is a usage error that leaves the last release alone", () => {
    const unknown = releaseScript("--target", "plan9-x64", "--outdir", outdir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown target "plan9-x64"');
    const missing = releaseScript("--target", "darwin-arm64", "--bindir", bindir, "--outdir", outdir, "--no-build");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("stavily-darwin-arm64 does not exist");
    expect(existsSync(join(outdir, archive))).toBe(true);
  });
});

describe("deployments/install.sh", () => {
  const install = (root: string, ...args: string[]) => run(["sh", join(outdir, "install.sh"), "--root", root, ...args], { TMPDIR: dir });

  test("verifies, installs the executable under --root, writes configs once, keeps existing ones", () => {
    const root = join(dir, "root");
    const first = install(root, "--no-user", join(outdir, archive));
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`verified ${archive}`);
    const binary = join(root, "usr/local/bin/stavily");
    expect(statSync(binary).mode & 0o777).toBe(0o755);
    const version = run([binary, "version", "--json"]);
    expect(version.code).toBe(0);
    expect(JSON.parse(version.stdout).version).toBe(pkg.version);
    for (const [path, mode] of [["etc/stavily", 0o750], ["var/lib/stavily", 0o750], ["etc/stavily/sensor.yaml", 0o640], ["etc/stavily/action.yaml", 0o640]] as const) {
      expect(statSync(join(root, path)).mode & 0o777).toBe(mode);
    }
    expect(readFileSync(join(root, "etc/stavily/action.yaml"), "utf8")).toBe(readFileSync(join(repoRoot, "deployments/config/action.yaml"), "utf8"));

    writeFileSync(join(root, "etc/stavily/sensor.yaml"), "agent:\n  type: sensor\n");
    const second = install(root, "--prefix", "/opt/stavily");
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("--root: not creating the stavily user");
    expect(second.stdout).toContain("kept existing");
    expect(readFileSync(join(root, "etc/stavily/sensor.yaml"), "utf8")).toBe("agent:\n  type: sensor\n");
    expect(run([join(root, "opt/stavily/bin/stavily"), "version"]).code).toBe(0);
  });

  test("the archive for this machine is found beside the script when none is named", () => {
    if (`${process.platform}-${process.arch}` !== "linux-x64") return;
    const root = join(dir, "root-auto");
    const result = install(root, "--no-user");
    expect(result.code).toBe(0);
    expect(existsSync(join(root, "usr/local/bin/stavily"))).toBe(true);
  });

  test("a corrupted archive, a missing SHA256SUMS or a bad option installs nothing", () => {
    const copy = join(dir, "corrupt");
    cpSync(outdir, copy, { recursive: true });
    const file = join(copy, archive);
    const bytes = readFileSync(file);
    bytes[bytes.length >> 1]! ^= 0xff;
    writeFileSync(file, bytes);
    const root = join(dir, "root-corrupt");
    const corrupt = run(["sh", join(copy, "install.sh"), "--root", root, "--no-user", file]);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toContain(`checksum mismatch for ${archive}`);
    expect(existsSync(join(root, "usr/local/bin/stavily"))).toBe(false);
    expect(existsSync(join(root, "etc/stavily"))).toBe(false);

    rmSync(join(copy, "SHA256SUMS"));
    const unsummed = run(["sh", join(copy, "install.sh"), "--root", root, file]);
    expect(unsummed.code).toBe(1);
    expect(unsummed.stderr).toContain("SHA256SUMS is missing");

    const usage = run(["sh", join(outdir, "install.sh"), "--prefix", "relative/path"]);
    expect(usage.code).toBe(2);
  });

  test("shellcheck finds nothing, where it is installed", () => {
    const check = run(["sh", "-c", "command -v shellcheck >/dev/null || exit 99; shellcheck -s sh deployments/install.sh"]);
    if (check.code === 99) return;
    expect(check.stdout + check.stderr).toBe("");
    expect(check.code).toBe(0);
  });
});
