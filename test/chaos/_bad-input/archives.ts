/**
 * Archives for plugin_install: a server holding broken and malicious ones (traversal, symlinks, a
 * declared size over the cap, not an archive, a broken manifest) and one good plugin, and a socket that
 * announces a 200 MiB download; each case with the refusal it must produce.
 */
import { gzip, sha256, tar, zip } from "../../../src/core/plugin/install/_testkit.ts";

export const goodManifest = (id: string, version: string) =>
  ["plugin:", `  id: ${id}`, `  name: ${id}`, `  version: "${version}"`, "  type: action", "  runtime:", "    type: bun", "    entry_point: index.ts", ""].join("\n");
export const goodEntry = 'import { defineAction } from "stavily/sdk";\nexport default defineAction({ execute: () => ({ status: "completed", data: { tally: true } }) });\n';

/** A tar header declaring an entry far over the 512 MiB unpacked cap, and nothing after it. */
function declaredHuge(): Uint8Array {
  const block = tar([{ name: "evil/huge.bin", data: "" }]).slice(0, 512);
  const put = (text: string, at: number) => block.set(new TextEncoder().encode(text), at);
  put(`${(600 * 1024 * 1024).toString(8).padStart(11, "0")}\0`, 124);
  block.fill(0x20, 148, 156);
  const sum = block.reduce((a, b) => a + b, 0);
  put(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return gzip(block);
}

export interface ArchiveCase {
  name: string;
  path: string;
  /** sha256 to put in the instruction (the archive's own unless the case is about it). */
  sha256?: string | null;
  url?: string;
  expect: RegExp;
  /** What error_details.problems must hold, one problem a line. */
  problems?: RegExp;
}

export type Archives = ReturnType<typeof startArchiveServer>;

export function startArchiveServer() {
  const good = gzip(tar([{ name: "evil/plugin.yaml", data: goodManifest("evil", "1.0.0") }, { name: "evil/index.ts", data: goodEntry }]));
  const bodies: Record<string, Uint8Array> = {
    "/traversal.tar.gz": gzip(tar([{ name: "evil/plugin.yaml", data: goodManifest("evil", "1.0.0") }, { name: "evil/../../../escaped.txt", data: "pwned" }])),
    "/symlink.tar.gz": gzip(tar([{ name: "evil/plugin.yaml", data: goodManifest("evil", "1.0.0") }, { name: "evil/index.ts", type: "2", link: "/etc/passwd" }])),
    "/declared-huge.tar.gz": declaredHuge(),
    "/good-evil.tar.gz": good,
    "/not-an-archive.tar.gz": new TextEncoder().encode("this is not an archive at all, just text pretending to be one"),
    "/bad-manifest.tar.gz": gzip(tar([{ name: "evil/plugin.yaml", data: "plugin:\n  id: evil\n  version: @1.0\n" }, { name: "evil/index.ts", data: goodEntry }])),
    "/symlink.zip": zip([{ name: "evil/plugin.yaml", data: goodManifest("evil", "1.0.0") }, { name: "evil/index.ts", data: "../../../../etc/passwd", mode: 0o120777 }]),
    "/tally.tar.gz": gzip(tar([{ name: "tally/plugin.yaml", data: goodManifest("tally", "1.0.0") }, { name: "tally/index.ts", data: goodEntry }])),
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request) => {
      const body = bodies[new URL(request.url).pathname];
      return body ? new Response(body as Uint8Array<ArrayBuffer>) : new Response("not found", { status: 404 });
    },
  });
  // An answer that declares 200 MiB: refused from its header, before a byte of body is read.
  const oversize = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket) {
        // Headers and a first bytes of body, then nothing: a reader that trusted it would wait for 200 MiB.
        socket.write("HTTP/1.1 200 OK\r\ncontent-type: application/gzip\r\ncontent-length: 209715200\r\n\r\n\x1f\x8b");
      },
    },
  });
  const base = `http://127.0.0.1:${server.port}`;
  const hash = (path: string) => sha256(bodies[path]!);
  const cases: ArchiveCase[] = [
    { name: "path traversal", path: "/traversal.tar.gz", expect: /entry "evil\/\.\.\/\.\.\/\.\.\/escaped\.txt": refused: path traversal \("\.\."\)/ },
    { name: "symlink", path: "/symlink.tar.gz", expect: /entry "evil\/index\.ts": refused: symbolic link to "\/etc\/passwd"; plugins may contain only regular files and directories/ },
    { name: "zip symlink", path: "/symlink.zip", expect: /entry "evil\/index\.ts": refused: symbolic link; plugins may contain only regular files and directories/ },
    { name: "declared size over the cap", path: "/declared-huge.tar.gz", expect: /entry "evil\/huge\.bin": refused: the plugin would exceed 536870912 bytes uncompressed/ },
    { name: "oversize download", path: "/oversize.tar.gz", url: `http://127.0.0.1:${oversize.port}/oversize.tar.gz`, sha256: "0".repeat(64), expect: /is larger than 104857600 bytes; refused/ },
    { name: "bad checksum", path: "/good-evil.tar.gz", sha256: "a".repeat(64), expect: new RegExp(`SHA-256 mismatch \\(expected ${"a".repeat(64)}, got ${hash("/good-evil.tar.gz")}\\); refused`) },
    { name: "no checksum", path: "/good-evil.tar.gz", sha256: null, expect: /a sha256 is required to install from a URL; refused/ },
    { name: "plain http to another host", path: "/good-evil.tar.gz", url: "http://plugins.example.com/evil.tar.gz", expect: /must be an https URL \(plain http only to a loopback address\)/ },
    { name: "not an archive", path: "/not-an-archive.tar.gz", expect: /is not a \.tar\.gz, \.tgz, \.tar or \.zip archive/ },
    { name: "broken manifest inside", path: "/bad-manifest.tar.gz", expect: /: evil\/plugin\.yaml: 1 problem$/, problems: /\/bad-manifest\.tar\.gz: evil\/plugin\.yaml:3:\d+ invalid YAML: Plain value cannot start with reserved character @/ },
  ];
  return {
    cases: cases.map((item) => ({ ...item, url: item.url ?? `${base}${item.path}`, sha256: item.sha256 === undefined ? hash(item.path) : item.sha256 })),
    tally: { archive_url: `${base}/tally.tar.gz`, sha256: hash("/tally.tar.gz"), version: "1.0.0" },
    stop() {
      server.stop(true);
      oversize.stop(true);
    },
  };
}
