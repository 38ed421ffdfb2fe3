/**
 * Test support for installation: archives built byte by byte (so malicious ones can be made exactly), a local
 * git repository, a loopback HTTP server, and a stand-in manifest validator.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import YAML from "yaml";
import type { PluginManifestInfo } from "./_bundle.ts";

/** Writes `files` (relative path → content) below `dir`. */
export function writeTree(dir: string, files: Record<string, string>): string {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
  return dir;
}

/** A minimal plugin tree: plugin.yaml with `id` and `version`, and an entry that exports its version. */
export function pluginFiles(id: string, version: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    "plugin.yaml": `id: ${id}\nversion: ${version}\nruntime: bun\nentry: index.ts\n`,
    "index.ts": `export const version = ${JSON.stringify(version)};\n`,
    ...extra,
  };
}

/** Stands in for the manifest loader until `loadManifest` exists: reads id, version, runtime and entry. */
export async function validate(dir: string): Promise<PluginManifestInfo> {
  const file = path.join(dir, "plugin.yaml");
  if (!fs.existsSync(file)) throw new Error(`no plugin.yaml in ${dir}`);
  const doc = YAML.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  if (typeof doc.id !== "string" || typeof doc.version !== "string") throw new Error("plugin.yaml needs id and version");
  const out: PluginManifestInfo = { id: doc.id, version: doc.version };
  if (typeof doc.runtime === "string") out.runtime = doc.runtime;
  if (typeof doc.entry === "string") out.entry = doc.entry;
  return out;
}

/** Runs a command synchronously and throws with its stderr if it fails. */
export function sh(cmd: string[], cwd: string, env: Record<string, string> = {}): string {
  const result = Bun.spawnSync(cmd, { cwd, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${result.stderr.toString()}`);
  return result.stdout.toString();
}

export function sha256(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

// ---- tar, byte by byte -------------------------------------------------------------------------------------

export interface TarItem {
  name: string;
  /** ustar type flag: "0" file, "1" hard link, "2" symlink, "3" char device, "5" directory, "6" FIFO. */
  type?: string;
  data?: string | Uint8Array;
  link?: string;
  mode?: number;
}

export function tar(items: readonly TarItem[]): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const item of items) {
    const data = typeof item.data === "string" ? new TextEncoder().encode(item.data) : (item.data ?? new Uint8Array());
    const header = new Uint8Array(512);
    const put = (text: string, at: number, length: number) => header.set(new TextEncoder().encode(text).subarray(0, length), at);
    const octal = (value: number, at: number, length: number) => put(`${value.toString(8).padStart(length - 1, "0")}\0`, at, length);
    put(item.name, 0, 100);
    octal(item.mode ?? 0o644, 100, 8);
    octal(0, 108, 8);
    octal(0, 116, 8);
    octal(data.length, 124, 12);
    octal(0, 136, 12);
    put(item.type ?? "0", 156, 1);
    put(item.link ?? "", 157, 100);
    put("ustar\0", 257, 6);
    put("00", 263, 2);
    header.fill(0x20, 148, 156);
    const sum = header.reduce((a, b) => a + b, 0);
    octal(sum, 148, 7);
    header[155] = 0x20;
    blocks.push(header, data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  blocks.push(new Uint8Array(1024));
  return concat(blocks);
}

export function gzip(bytes: Uint8Array): Uint8Array {
  return Bun.gzipSync(bytes as Uint8Array<ArrayBuffer>);
}

// ---- zip, byte by byte -------------------------------------------------------------------------------------

export interface ZipItem {
  name: string;
  data?: string | Uint8Array;
  /** Unix mode including the file type bits (0o100644 file, 0o120777 symlink, 0o040755 directory). */
  mode?: number;
  deflate?: boolean;
  /** Lie about the uncompressed size in both headers. */
  declaredSize?: number;
}

export function zip(items: readonly ZipItem[]): Uint8Array {
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const item of items) {
    const raw = typeof item.data === "string" ? new TextEncoder().encode(item.data) : (item.data ?? new Uint8Array());
    const data = item.deflate ? new Uint8Array(zlib.deflateRawSync(raw)) : raw;
    const name = new TextEncoder().encode(item.name);
    const crc = zlib.crc32(raw);
    const size = item.declaredSize ?? raw.length;
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true);
    local.setUint16(6, 0x800, true);
    local.setUint16(8, item.deflate ? 8 : 0, true);
    local.setUint16(12, 0x21, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, data.length, true);
    local.setUint32(22, size, true);
    local.setUint16(26, name.length, true);
    const central = new DataView(new ArrayBuffer(46));
    central.setUint32(0, 0x02014b50, true);
    central.setUint16(4, (3 << 8) | 20, true);
    central.setUint16(6, 20, true);
    central.setUint16(8, 0x800, true);
    central.setUint16(10, item.deflate ? 8 : 0, true);
    central.setUint16(14, 0x21, true);
    central.setUint32(16, crc, true);
    central.setUint32(20, data.length, true);
    central.setUint32(24, size, true);
    central.setUint16(28, name.length, true);
    central.setUint32(38, ((item.mode ?? 0o100644) << 16) >>> 0, true);
    central.setUint32(42, offset, true);
    locals.push(new Uint8Array(local.buffer), name, data);
    centrals.push(new Uint8Array(central.buffer), name);
    offset += 30 + name.length + data.length;
  }
  const directory = concat(centrals);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, items.length, true);
  end.setUint16(10, items.length, true);
  end.setUint32(12, directory.length, true);
  end.setUint32(16, offset, true);
  return concat([...locals, directory, new Uint8Array(end.buffer)]);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

// ---- git and http ------------------------------------------------------------------------------------------

const GIT_ENV = {
  GIT_AUTHOR_NAME: "test",
  GIT_AUTHOR_EMAIL: "test@example.invalid",
  GIT_COMMITTER_NAME: "test",
  GIT_COMMITTER_EMAIL: "test@example.invalid",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
};

/** Commits `files` to the repository at `dir` (created on first use) and returns the commit id. */
export function gitCommit(dir: string, files: Record<string, string>, tag?: string): string {
  if (!fs.existsSync(path.join(dir, ".git"))) sh(["git", "init", "--quiet", "--initial-branch=main", dir], os.tmpdir(), GIT_ENV);
  writeTree(dir, files);
  sh(["git", "add", "--all"], dir, GIT_ENV);
  sh(["git", "commit", "--quiet", "--message", "change"], dir, GIT_ENV);
  if (tag !== undefined) sh(["git", "tag", tag], dir, GIT_ENV);
  return sh(["git", "rev-parse", "HEAD"], dir, GIT_ENV).trim();
}

export interface TestServer {
  url: string;
  /** Serves `body` at `pathname`; `chunked` sends it without a Content-Length. */
  put(pathname: string, body: Uint8Array, chunked?: boolean): void;
  /** Never answers `pathname` (for deadlines). */
  hang(pathname: string): void;
  /** Answers `pathname` with a redirect to `location`. */
  redirect(pathname: string, location: string): void;
  stop(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 with an ephemeral port. */
export function startServer(): TestServer {
  const bodies = new Map<string, { body: Uint8Array; chunked: boolean }>();
  const redirects = new Map<string, string>();
  const hanging = new Set<string>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const { pathname } = new URL(request.url);
      if (hanging.has(pathname)) return new Promise<Response>(() => {});
      const location = redirects.get(pathname);
      if (location !== undefined) return new Response(null, { status: 302, headers: { location } });
      const entry = bodies.get(pathname);
      if (entry === undefined) return new Response("not found", { status: 404 });
      const bytes = entry.body as Uint8Array<ArrayBuffer>;
      if (!entry.chunked) return new Response(bytes);
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let at = 0; at < bytes.length; at += 4096) controller.enqueue(bytes.slice(at, at + 4096));
          controller.close();
        },
      });
      return new Response(stream);
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    put: (pathname, body, chunked = false) => void bodies.set(pathname, { body, chunked }),
    redirect: (pathname, location) => void redirects.set(pathname, location),
    hang: (pathname) => void hanging.add(pathname),
    stop: () => server.stop(true),
  };
}
