import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { backupName, listBackups, maintainBackups } from "./_backups.ts";
import { createRotatingFile, type RotatingFileOptions } from "./_rotating-file.ts";
import { listDir, tempDirs } from "./_test-support.ts";
import { createLogger, LOGGING_DEFAULTS } from "./index.ts";

const temp = tempDirs();
afterEach(() => temp.cleanup());

function writer(overrides: Partial<RotatingFileOptions> = {}) {
  const errors: unknown[] = [];
  const file = join(temp.make(), "agent.log");
  const options: RotatingFileOptions = { file, max_size: 0, max_backups: 0, max_age: 0, compress: false, onError: (error) => errors.push(error), ...overrides };
  return { file, dir: join(file, ".."), errors, log: createRotatingFile(options) };
}

/** Lines of the live file and every backup (gunzipped), oldest file first. */
async function allLines(file: string): Promise<string[]> {
  const { backups } = await listBackups(file);
  const contents = backups.reverse().map((backup) => {
    if (backup.gz) return Buffer.from(Bun.gunzipSync(readFileSync(backup.gz))).toString("utf8");
    if (backup.plain) return readFileSync(backup.plain, "utf8");
    throw new Error("backup without a file");
  });
  contents.push(readFileSync(file, "utf8"));
  return contents.join("").split("\n").filter((line) => line !== "");
}

const numbered = (count: number) => Array.from({ length: count }, (_, i) => `line ${String(i).padStart(4, "0")}`);

describe("rotation", () => {
  test("at max_size every line is kept, once, in order, and no file passes max_size", async () => {
    const { file, dir, errors, log } = writer({ max_size: 100 });
    const expected = numbered(500);
    for (const line of expected) log.write(`${line}\n`);
    await log.close();

    expect(await allLines(file)).toEqual(expected);
    const files = listDir(dir);
    expect(files.length).toBeGreaterThan(40);
    for (const name of files) expect(statSync(join(dir, name)).size).toBeLessThanOrEqual(100);
    expect(errors).toEqual([]);
  });

  test("through the logger: json lines across rotated files add up", async () => {
    const file = join(temp.make(), "agent.log");
    const log = createLogger({ ...LOGGING_DEFAULTS, output: "file", format: "json", file, max_size: 1000, max_backups: 0, compress: false });
    for (let seq = 0; seq < 300; seq++) log.info("tick", { seq });
    await log.close();
    const seqs = (await allLines(file)).map((line) => (JSON.parse(line) as { seq: number }).seq);
    expect(seqs).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });

  test("a line longer than max_size gets a file of its own", async () => {
    const { file, log } = writer({ max_size: 10 });
    log.write("short\n");
    log.write("a line far longer than ten bytes\n");
    log.write("short\n");
    await log.close();
    expect(await allLines(file)).toEqual(["short", "a line far longer than ten bytes", "short"]);
  });

  test("backup names are unique and ordered even within one millisecond", () => {
    const file = join(temp.make(), "agent.log");
    const at = new Date("2025-01-02T03:04:05.678Z");
    const first = backupName(file, at);
    writeFileSync(first, "");
    const second = backupName(file, at);
    writeFileSync(`${second}.gz`, "");
    const third = backupName(file, at);
    expect(first).toBe(`${file}.2025-01-02T03-04-05.678Z`);
    expect(second).toBe(`${file}.2025-01-02T03-04-05.678Z-001`);
    expect(third).toBe(`${file}.2025-01-02T03-04-05.678Z-002`);
  });
});

describe("backups", () => {
  test("max_backups keeps the newest backups", async () => {
    const { file, dir, log } = writer({ max_size: 100, max_backups: 2 });
    const expected = numbered(200);
    for (const line of expected) log.write(`${line}\n`);
    await log.close();

    expect(listDir(dir)).toHaveLength(3);
    const kept = await allLines(file);
    // What is left is the end of the stream, without gaps.
    expect(kept).toEqual(expected.slice(expected.length - kept.length));
    expect(kept.length).toBeGreaterThan(8);
  });

  test("max_age deletes backups rotated longer ago, plain or compressed", async () => {
    const dir = temp.make();
    const file = join(dir, "agent.log");
    writeFileSync(`${file}.2020-01-01T00-00-00.000Z`, "old\n");
    writeFileSync(`${file}.2020-01-02T00-00-00.000Z.gz`, Bun.gzipSync("old\n"));
    writeFileSync(join(dir, "unrelated.2020-01-01T00-00-00.000Z"), "not ours\n");
    const errors: unknown[] = [];
    const log = createRotatingFile({ file, max_size: 10, max_backups: 0, max_age: 60 * 60 * 1000, compress: false, onError: (error) => errors.push(error) });
    log.write("recent line\n");
    log.write("recent line\n");
    await log.close();

    const { backups } = await listBackups(file);
    expect(backups).toHaveLength(1);
    expect(readFileSync(backups[0]?.plain ?? "", "utf8")).toBe("recent line\n");
    expect(existsSync(join(dir, "unrelated.2020-01-01T00-00-00.000Z"))).toBe(true);
    expect(errors).toEqual([]);
  });

  test("max_age is measured from the rotation time in the name", async () => {
    const file = join(temp.make(), "agent.log");
    const now = Date.parse("2025-06-01T12:00:00.000Z");
    writeFileSync(`${file}.2025-06-01T11-30-00.000Z`, "");
    writeFileSync(`${file}.2025-06-01T10-30-00.000Z`, "");
    await maintainBackups(file, { max_backups: 0, max_age: 60 * 60 * 1000, compress: false }, now);
    expect((await listBackups(file)).backups.map((backup) => backup.plain)).toEqual([`${file}.2025-06-01T11-30-00.000Z`]);
  });

  test("compress gzips every backup into valid gzip and leaves no plain or temp files", async () => {
    const { file, dir, errors, log } = writer({ max_size: 200, compress: true });
    const expected = numbered(300);
    for (const line of expected) log.write(`${line}\n`);
    await log.close();

    const names = listDir(dir);
    expect(names.filter((name) => name !== "agent.log").every((name) => name.endsWith(".gz"))).toBe(true);
    expect(names.length).toBeGreaterThan(10);
    expect(await allLines(file)).toEqual(expected);
    expect(errors).toEqual([]);
  });

  test("leftovers of a crash mid-compression are cleaned up", async () => {
    const file = join(temp.make(), "agent.log");
    const interrupted = `${file}.2025-06-01T11-30-00.000Z`;
    writeFileSync(interrupted, "interrupted\n");
    writeFileSync(`${interrupted}.gz.tmp`, "half a gzip");
    const renamed = `${file}.2025-06-01T11-40-00.000Z`;
    writeFileSync(renamed, "renamed\n");
    writeFileSync(`${renamed}.gz`, Bun.gzipSync("renamed\n"));

    await maintainBackups(file, { max_backups: 0, max_age: 0, compress: true });
    expect(listDir(join(file, ".."))).toEqual(["agent.log.2025-06-01T11-30-00.000Z.gz", "agent.log.2025-06-01T11-40-00.000Z.gz"]);
    expect(Buffer.from(Bun.gunzipSync(readFileSync(`${interrupted}.gz`))).toString("utf8")).toBe("interrupted\n");
  });
});
