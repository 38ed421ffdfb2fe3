import { afterEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { StavilyError } from "../../errors.ts";
import { extractArchive, type WriteLimits } from "./_extract.ts";
import { gzip, sh, tar, writeTree, zip } from "./_testkit.ts";
import { tempDirs } from "../../../../test/support/temp.ts";

const LIMITS: WriteLimits = { maxBytes: 1024 * 1024, maxEntries: 100 };
const temp = tempDirs("stavily-install-");
afterEach(() => temp.cleanup());
const scratch = () => temp.make();

/** Writes `bytes` as an archive file in a fresh directory and extracts it into `<dir>/out`. */
async function extract(bytes: Uint8Array, limits = LIMITS) {
  const dir = scratch();
  const file = path.join(dir, "archive");
  fs.writeFileSync(file, bytes);
  const out = path.join(dir, "out");
  const summary = await extractArchive(file, out, limits);
  return { dir, out, summary };
}

async function refusal(bytes: Uint8Array, limits = LIMITS): Promise<StavilyError> {
  const result = await extract(bytes, limits).then(
    () => null,
    (error: unknown) => error,
  );
  expect(result).toBeInstanceOf(StavilyError);
  const error = result as StavilyError;
  expect(error.component).toBe("plugin");
  return error;
}

describe("extracting well-formed archives", () => {
  test("a .tar.gz made by tar keeps files, directories and the execute bit", async () => {
    const src = writeTree(scratch(), { "p/plugin.yaml": "id: a\n", "p/bin/run.sh": "#!/bin/sh\n", "p/lib/x.ts": "export {}\n" });
    fs.chmodSync(path.join(src, "p/bin/run.sh"), 0o755);
    sh(["tar", "czf", "a.tgz", "p"], src);
    const { out, summary } = await extract(fs.readFileSync(path.join(src, "a.tgz")));
    expect(fs.readFileSync(path.join(out, "p/plugin.yaml"), "utf8")).toBe("id: a\n");
    expect(fs.statSync(path.join(out, "p/bin/run.sh")).mode & 0o777).toBe(0o755);
    expect(fs.statSync(path.join(out, "p/lib/x.ts")).mode & 0o777).toBe(0o644);
    expect(summary.bytes).toBe(6 + 10 + 10);
  });

  test("a .zip made by zip, with deflated and stored entries", async () => {
    const src = writeTree(scratch(), { "p/plugin.yaml": "id: z\n", "p/big.txt": "x".repeat(10_000) });
    sh(["zip", "-qr", "a.zip", "p"], src);
    const { out } = await extract(fs.readFileSync(path.join(src, "a.zip")));
    expect(fs.readFileSync(path.join(out, "p/big.txt"), "utf8")).toBe("x".repeat(10_000));
  });

  test("long names (GNU and pax headers) are read", async () => {
    const long = `${"d".repeat(120)}/${"f".repeat(120)}.txt`;
    const src = writeTree(scratch(), { [long]: "deep" });
    sh(["tar", "--format=pax", "-czf", "pax.tgz", long.split("/")[0] ?? ""], src);
    sh(["tar", "--format=gnu", "-czf", "gnu.tgz", long.split("/")[0] ?? ""], src);
    for (const name of ["pax.tgz", "gnu.tgz"]) {
      const { out } = await extract(fs.readFileSync(path.join(src, name)));
      expect(fs.readFileSync(path.join(out, long), "utf8")).toBe("deep");
    }
  });

  test("npm command shims under node_modules/.bin are skipped, not created", async () => {
    const { out } = await extract(
      gzip(
        tar([
          { name: "node_modules/pkg/cli.js", data: "x" },
          { name: "node_modules/.bin/cli", type: "2", link: "../pkg/cli.js" },
        ]),
      ),
    );
    expect(fs.existsSync(path.join(out, "node_modules/pkg/cli.js"))).toBe(true);
    expect(fs.existsSync(path.join(out, "node_modules/.bin/cli"))).toBe(false);
  });

  test("a truncated .tar.gz is a StavilyError, not a stray exception", async () => {
    const whole = gzip(tar([{ name: "a.txt", data: "x".repeat(5000) }]));
    const error = await refusal(whole.subarray(0, whole.length - 20));
    expect(error.message).toMatch(/cannot be read|ends inside/);
  });

  test("something that is not an archive is refused", async () => {
    expect((await refusal(new TextEncoder().encode("hello"))).message).toContain("is not a .tar.gz, .tgz, .tar or .zip archive");
  });
});

describe("malicious tar archives are refused, naming the entry", () => {
  test("path traversal", async () => {
    const error = await refusal(gzip(tar([{ name: "ok.txt", data: "x" }, { name: "../evil", data: "x" }])));
    expect(error.message).toContain('entry "../evil": refused: path traversal');
  });

  test("traversal hidden in the middle of a name", async () => {
    const error = await refusal(gzip(tar([{ name: "a/../../evil", data: "x" }])));
    expect(error.message).toContain('entry "a/../../evil": refused: path traversal');
  });

  test("absolute path", async () => {
    const error = await refusal(gzip(tar([{ name: "/etc/x", data: "x" }])));
    expect(error.message).toContain('entry "/etc/x": refused: absolute path');
  });

  test("a symlink to /etc/passwd, made by the tar CLI", async () => {
    const src = writeTree(scratch(), { "p/plugin.yaml": "id: a\n" });
    fs.symlinkSync("/etc/passwd", path.join(src, "p/passwd"));
    sh(["tar", "czf", "a.tgz", "p"], src);
    const error = await refusal(fs.readFileSync(path.join(src, "a.tgz")));
    expect(error.message).toContain('entry "p/passwd": refused: symbolic link to "/etc/passwd"');
  });

  test("a symlink to a directory, then a file written through it: refused at the link, nothing escapes", async () => {
    const outside = scratch();
    const bytes = gzip(
      tar([
        { name: "d", type: "2", link: outside },
        { name: "d/owned", data: "pwned" },
      ]),
    );
    const error = await refusal(bytes);
    expect(error.message).toContain('entry "d": refused: symbolic link');
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  test("a hard link", async () => {
    const error = await refusal(gzip(tar([{ name: "h", type: "1", link: "/etc/passwd" }])));
    expect(error.message).toContain('entry "h": refused: hard link to "/etc/passwd"');
  });

  test("device files and FIFOs", async () => {
    expect((await refusal(gzip(tar([{ name: "null", type: "3" }])))).message).toContain('entry "null": refused: character device');
    expect((await refusal(gzip(tar([{ name: "fifo", type: "6" }])))).message).toContain('entry "fifo": refused: FIFO');
  });

  test("a file that repeats an earlier name", async () => {
    const error = await refusal(gzip(tar([{ name: "a", data: "1" }, { name: "a", data: "2" }])));
    expect(error.message).toContain('entry "a": refused: it clashes with an earlier entry');
  });

  test("too many entries", async () => {
    const items = Array.from({ length: 11 }, (_, i) => ({ name: `f${i}`, data: "x" }));
    const error = await refusal(gzip(tar(items)), { maxBytes: 1024, maxEntries: 10 });
    expect(error.message).toContain('entry "f10": more than 10 entries');
  });

  test("a gzip bomb: 64 MiB of zeros in a small .tar.gz stops at the byte cap", async () => {
    const src = scratch();
    fs.writeFileSync(path.join(src, "zeros"), new Uint8Array(64 * 1024 * 1024));
    sh(["tar", "czf", "bomb.tgz", "zeros"], src);
    const bytes = fs.readFileSync(path.join(src, "bomb.tgz"));
    expect(bytes.length).toBeLessThan(1024 * 1024);
    const error = await refusal(bytes);
    expect(error.message).toContain('entry "zeros": refused: the plugin would exceed 1048576 bytes uncompressed');
  });
});

describe("malicious zip archives are refused, naming the entry", () => {
  test("path traversal and absolute paths", async () => {
    expect((await refusal(zip([{ name: "../evil", data: "x" }]))).message).toContain('entry "../evil": refused: path traversal');
    expect((await refusal(zip([{ name: "/etc/x", data: "x" }]))).message).toContain('entry "/etc/x": refused: absolute path');
    expect((await refusal(zip([{ name: "..\\evil", data: "x" }]))).message).toContain("backslash");
  });

  test("a symlink stored by zip -y", async () => {
    const src = writeTree(scratch(), { "p/plugin.yaml": "id: a\n" });
    fs.symlinkSync("/etc/passwd", path.join(src, "p/passwd"));
    sh(["zip", "-qry", "a.zip", "p"], src);
    const error = await refusal(fs.readFileSync(path.join(src, "a.zip")));
    expect(error.message).toContain('entry "p/passwd": refused: symbolic link');
  });

  test("a zip bomb over the byte cap, with an honest header", async () => {
    const zeros = new Uint8Array(8 * 1024 * 1024);
    const bytes = zip([{ name: "zeros", data: zeros, deflate: true }]);
    expect(bytes.length).toBeLessThan(64 * 1024);
    expect((await refusal(bytes)).message).toContain('entry "zeros": refused: the plugin would exceed');
  });

  test("a zip bomb whose header lies about its size is stopped while inflating", async () => {
    const zeros = new Uint8Array(8 * 1024 * 1024);
    const error = await refusal(zip([{ name: "zeros", data: zeros, deflate: true, declaredSize: 10 }]));
    expect(error.message).toContain('entry "zeros": inflates to more than the 10 bytes its header declares');
  });

  test("a device file", async () => {
    expect((await refusal(zip([{ name: "dev", mode: 0o020644 }]))).message).toContain('entry "dev": refused: character device');
  });
});
