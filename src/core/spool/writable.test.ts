import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { notWritable } from "./_writable.ts";
import { openEventSpool } from "./events.ts";
import { openJournal } from "./journal.ts";

const dir = mkdtempSync(join(tmpdir(), "stavily-writable-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a file, or the directory of one not made yet, that can be written has no problem", () => {
  writeFileSync(join(dir, "there.db"), "");
  expect(notWritable(join(dir, "there.db"))).toBeUndefined();
  expect(notWritable(join(dir, "not-yet.db"))).toBeUndefined();
});

test("otherwise the OS's reason is given (here: no such directory; on a read-only disk: EROFS)", () => {
  expect(notWritable(join(dir, "missing", "x.db"))).toStartWith("ENOENT: no such file or directory");
});

test("a spool or journal that cannot be opened says why, after SQLite's own words", () => {
  const spool = join(dir, "missing", "events.db");
  const journal = join(dir, "missing", "journal.db");
  expect(() => openEventSpool(spool, { maxEvents: 1, maxBytes: 1, overflow: "drop_oldest" })).toThrow(`cannot open the event spool ${spool}: unable to open database file (ENOENT`);
  expect(() => openJournal(journal)).toThrow(`cannot open the journal ${journal}: unable to open database file (ENOENT`);
});
