import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { backupName } from "../log/_backups.ts";
import { registerSecret } from "../redact.ts";
import { sealRecord, serialize } from "./_record.ts";
import { auditOptions, editLines, readLines, tamper, tempDirs, writeRotatedLog } from "./_testkit.ts";
import { createAuditLog, GENESIS, NO_AUDIT, verifyAudit, type AuditRecord } from "./index.ts";

const temp = tempDirs();
afterEach(() => temp.cleanup());

const records = (file: string) => readLines(file).map((line) => JSON.parse(line) as AuditRecord);

describe("audit log writer", () => {
  test("writes one chained line per record, rotating between records", async () => {
    const dir = temp.make();
    const files = await writeRotatedLog(dir, 12);
    expect(files.length).toBeGreaterThanOrEqual(4);
    const all = files.flatMap(records);
    expect(all.map((record) => record.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(all[0]!.prev).toBe(GENESIS);
    for (let i = 1; i < all.length; i++) expect(all[i]!.prev).toBe(all[i - 1]!.hash);
    // Each rotated file's first record links to the last of the file before.
    expect(records(files[1]!)[0]!.prev).toBe(records(files[0]!).at(-1)!.hash);
    expect(all[0]).toMatchObject({ agent_id: "web-01", event: "instruction.received", fields: { instruction_id: "i-1", plugin_id: "echo", type: "execute" } });
    expect(Date.parse(all[0]!.time)).not.toBeNaN();
    expect(verifyAudit(dir)).toMatchObject({ ok: true, files: files.length, records: 12, first: { seq: 1, prev: GENESIS }, last: { seq: 12, hash: all[11]!.hash } });
  });

  test("redacts secrets in fields: by key, in text, and registered values", async () => {
    const dir = temp.make();
    registerSecret("s3cr3t-registered-value");
    const log = createAuditLog(auditOptions(dir));
    log.record("auth.failure", {
      token: "abcdefghijklmnop",
      headers: { Authorization: "Bearer abcdefghijklmnop" },
      message: "login with password=hunter2 failed",
      note: "carries s3cr3t-registered-value inside",
      error: new Error("token=zzzzzzzzzzzz rejected"),
      token_file: "/etc/stavily/token",
    });
    await log.close();
    const text = readFileSync(join(dir, "audit.log"), "utf8");
    for (const secret of ["abcdefghijklmnop", "hunter2", "s3cr3t-registered-value", "zzzzzzzzzzzz"]) expect(text).not.toContain(secret);
    expect(records(join(dir, "audit.log"))[0]!.fields).toMatchObject({ token: "[REDACTED]", token_file: "/etc/stavily/token", error: { name: "Error" } });
    expect(verifyAudit(dir).ok).toBe(true);
  });

  test("continues the chain after a restart, also from the newest backup when the live file is empty", async () => {
    const dir = temp.make();
    await writeRotatedLog(dir, 3);
    // An empty live file is what a rotation right before a stop leaves.
    renameSync(join(dir, "audit.log"), backupName(join(dir, "audit.log"), new Date()));
    writeFileSync(join(dir, "audit.log"), "");
    const log = createAuditLog(auditOptions(dir));
    log.record("config.reload", { changed: ["logging.level"] });
    await log.close();
    const result = verifyAudit(dir);
    expect(result).toMatchObject({ ok: true, records: 4, last: { seq: 4 } });
  });

  test("cuts a half-written last line at restart and records that it did", async () => {
    const dir = temp.make();
    const file = join(dir, "audit.log");
    await writeRotatedLog(dir, 2, { max_size: 0 });
    appendFileSync(file, '{"seq":3,"time":"2026-');
    expect(verifyAudit(dir).error).toMatchObject({ file, line: 3, reason: "torn" });
    const log = createAuditLog(auditOptions(dir));
    log.record("config.load", {});
    await log.close();
    const after = records(file);
    expect(after.map((record) => [record.seq, record.event])).toEqual([
      [1, "instruction.received"],
      [2, "instruction.received"],
      [3, "audit.torn_tail"],
      [4, "config.load"],
    ]);
    expect(after[2]!.fields).toMatchObject({ file: "audit.log", bytes: 22 });
    expect(verifyAudit(dir)).toMatchObject({ ok: true, records: 4 });
  });

  test("keeps a last record that lacks only its newline", async () => {
    const dir = temp.make();
    const file = join(dir, "audit.log");
    await writeRotatedLog(dir, 2, { max_size: 0 });
    writeFileSync(file, readFileSync(file, "utf8").slice(0, -1));
    const log = createAuditLog(auditOptions(dir));
    log.record("config.load", {});
    await log.close();
    expect(records(file).map((record) => record.event)).toEqual(["instruction.received", "instruction.received", "config.load"]);
    expect(verifyAudit(dir)).toMatchObject({ ok: true, records: 3 });
  });

  test("refuses to start when the last record is not valid", async () => {
    const dir = temp.make();
    const [file] = await writeRotatedLog(dir, 2, { max_size: 0 });
    tamper.alterField(file!, 2);
    expect(() => createAuditLog(auditOptions(dir))).toThrow(/cannot continue the audit chain: the last record of .*audit\.log is not valid/);
  });

  test("pruned backups: the oldest remaining record is the accepted start", async () => {
    const dir = temp.make();
    const files = await writeRotatedLog(dir, 12, { max_backups: 2 });
    expect(files).toHaveLength(3);
    const result = verifyAudit(dir);
    expect(result.ok).toBe(true);
    expect(result.first!.seq).toBeGreaterThan(1);
    expect(result.last!.seq).toBe(12);
  });

  test("disabled: records nothing and creates no file", async () => {
    const dir = temp.make();
    const log = createAuditLog(auditOptions(dir, { enabled: false }));
    expect(log).toBe(NO_AUDIT);
    log.record("config.load", {});
    await log.close();
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("verifyAudit", () => {
  test("an altered field", async () => {
    const dir = temp.make();
    const files = await writeRotatedLog(dir);
    tamper.alterField(files[1]!, 2);
    expect(verifyAudit(dir).error).toMatchObject({ file: files[1], line: 2, reason: "altered" });
  });

  test("an altered record whose hash was recomputed breaks the link of the next", async () => {
    const dir = temp.make();
    const files = await writeRotatedLog(dir);
    editLines(files[0]!, (lines) => {
      const { hash: _, ...body } = JSON.parse(lines[0]!) as AuditRecord;
      lines[0] = serialize(sealRecord({ ...body, fields: { ...body.fields, plugin_id: "shell" } }));
    });
    expect(verifyAudit(dir).error).toMatchObject({ file: files[0], line: 2, reason: "altered" });
  });

  test("whitespace added to a line", async () => {
    const dir = temp.make();
    const files = await writeRotatedLog(dir);
    editLines(files[2]!, (lines) => (lines[0] = lines[0]!.replace('"seq":', '"seq": ')));
    expect(verifyAudit(dir).error).toMatchObject({ file: files[2], line: 1, reason: "altered" });
  });

  test("a deleted line", async () => {
    const dir = temp.make();
    const files = await writeRotatedLog(dir);
    tamper.deleteLine(files[1]!, 1);
    expect(verifyAudit(dir).error).toMatchObject({ file: files[1], line: 1, reason: "removed" });
  });

  test("two swapped lines", async () => {
    const dir = temp.make();
    const files = await writeRotatedLog(dir);
    tamper.swapWithNext(files[2]!, 1);
    expect(verifyAudit(dir).error).toMatchObject({ file: files[2], line: 1, reason: "reordered" });
  });

  test("a truncated last line", async () => {
    const dir = temp.make();
    const files = await writeRotatedLog(dir);
    const live = files.at(-1)!;
    tamper.truncateLast(live);
    expect(verifyAudit(dir).error).toMatchObject({ file: live, line: readLines(live).length, reason: "torn" });
  });

  test("the edited first line of a rotated file", async () => {
    const dir = temp.make();
    const files = await writeRotatedLog(dir);
    tamper.alterField(files[1]!, 1);
    const result = verifyAudit(dir);
    expect(result).toMatchObject({ ok: false, files: 2, error: { file: files[1], line: 1, reason: "altered" } });
    expect(result.records).toBe(readLines(files[0]!).length);
  });

  test("a first record at seq 1 that does not start from genesis", async () => {
    const dir = temp.make();
    const files = await writeRotatedLog(dir);
    editLines(files[0]!, (lines) => {
      const { hash: _, ...body } = JSON.parse(lines[0]!) as AuditRecord;
      lines[0] = serialize(sealRecord({ ...body, prev: "1".repeat(64) }));
    });
    expect(verifyAudit(dir).error).toMatchObject({ file: files[0], line: 1, reason: "altered" });
  });

  test("a line that is not a record", async () => {
    const dir = temp.make();
    const files = await writeRotatedLog(dir);
    editLines(files[1]!, (lines) => (lines[1] = "not json"));
    expect(verifyAudit(dir).error).toMatchObject({ file: files[1], line: 2, reason: "malformed" });
  });

  test("a removed middle file", async () => {
    const dir = temp.make();
    const files = await writeRotatedLog(dir);
    rmSync(files[1]!);
    expect(verifyAudit(dir).error).toMatchObject({ file: files[2], line: 1, reason: "removed" });
  });

  test("no audit log at all is an error, not an intact chain", () => {
    const dir = temp.make();
    expect(() => verifyAudit(dir)).toThrow(/no audit log in/);
    expect(existsSync(join(dir, "audit.log"))).toBe(false);
    expect(basename(dir)).toStartWith("stavily-audit-");
  });
});
