import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Instruction } from "../protocol/index.ts";
import { openJournal } from "./journal.ts";

const dir = mkdtempSync(join(tmpdir(), "stavily-journal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const instruction = (id: string): Instruction => ({
  id,
  plugin_id: "echo",
  instruction_type: "execute",
  plugin_configuration: {},
  input_data: { n: 1 },
  timeout_seconds: 0,
  max_retries: 0,
  retry_count: 0,
  priority: "normal",
});
const DONE = { status: "completed" as const, result: { ok: true } };

let files = 0;
// One suite, two stores: in memory and in a real file.
for (const [name, path] of [
  ["in memory", () => ":memory:"],
  ["on disk", () => join(dir, `journal-${++files}.db`)],
] as const) {
  describe(`journal ${name}`, () => {
    test("an instruction goes received → started → finished → acknowledged", () => {
      const journal = openJournal(path());
      expect(journal.receive(instruction("a"))).toBeUndefined();
      journal.start("a");
      expect(journal.get("a")).toMatchObject({ state: "started", attempts: 1 });
      journal.finish("a", DONE);
      expect(journal.outbox().map((entry) => entry.id)).toEqual(["a"]);
      journal.acknowledge("a");
      expect(journal.outbox()).toEqual([]);
      expect(journal.get("a")).toMatchObject({ state: "finished", acknowledged: true, result: DONE, instruction: { input_data: { n: 1 } } });
      journal.close();
    });

    test("a second delivery of a known id is reported, not recorded again", () => {
      const journal = openJournal(path());
      journal.receive(instruction("b"));
      journal.start("b");
      journal.finish("b", DONE);
      expect(journal.receive(instruction("b"))).toMatchObject({ state: "finished", result: DONE });
      // A late second finish (a duplicate run that slipped through) cannot replace the first result.
      journal.finish("b", { status: "failed", error_message: "second" });
      expect(journal.get("b")?.result).toEqual(DONE);
      journal.close();
    });

    test("interrupted lists what was received or started and never finished", () => {
      const journal = openJournal(path());
      journal.receive(instruction("c1"));
      journal.receive(instruction("c2"));
      journal.start("c2");
      journal.receive(instruction("c3"));
      journal.start("c3");
      journal.finish("c3", DONE);
      expect(journal.interrupted().map((entry) => [entry.id, entry.state])).toEqual([
        ["c1", "received"],
        ["c2", "started"],
      ]);
      journal.close();
    });

    test("prune deletes acknowledged entries past the retention, never unacknowledged ones", () => {
      let clock = 1_000_000;
      const journal = openJournal(path(), () => clock);
      for (const id of ["old-acked", "old-unacked"]) {
        journal.receive(instruction(id));
        journal.start(id);
        journal.finish(id, DONE);
      }
      journal.acknowledge("old-acked");
      clock += 8 * 86_400_000;
      expect(journal.prune(7 * 86_400_000)).toBe(1);
      expect(journal.get("old-acked")).toBeUndefined();
      expect(journal.get("old-unacked")).toBeDefined();
      journal.close();
    });
  });
}

describe("journal durability", () => {
  test("kill -9 after finish keeps the result in the outbox, and after start keeps the instruction interrupted", async () => {
    const file = join(dir, "killed.db");
    const script = join(dir, "writer.ts");
    await Bun.write(
      script,
      `import { openJournal } from ${JSON.stringify(join(import.meta.dir, "journal.ts"))};
       const journal = openJournal(${JSON.stringify(file)});
       const base = { plugin_id: "echo", instruction_type: "execute", plugin_configuration: {}, input_data: {}, timeout_seconds: 0, max_retries: 0, retry_count: 0, priority: "normal" };
       journal.receive({ id: "done", ...base }); journal.start("done"); journal.finish("done", { status: "completed", result: {} });
       journal.receive({ id: "cut", ...base }); journal.start("cut");
       console.log("written");
       setInterval(() => {}, 1000);`,
    );
    const writer = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "inherit" });
    const reader = writer.stdout.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain("written");
    writer.kill(9);
    await writer.exited;

    const journal = openJournal(file);
    expect(journal.outbox().map((entry) => entry.id)).toEqual(["done"]);
    expect(journal.interrupted().map((entry) => [entry.id, entry.state])).toEqual([["cut", "started"]]);
    journal.close();
  });

  test("a relative path is refused (bun:sqlite would follow the working directory)", () => {
    expect(() => openJournal("state/journal.db")).toThrow(/must be absolute/);
  });

  test("a write that fails (disk full, read-only, closed) names the journal file and the step", () => {
    const file = join(dir, "failing.db");
    const journal = openJournal(file);
    journal.close();
    expect(() => journal.receive(instruction("x"))).toThrow(`journal ${file}: receive failed: `);
    expect(() => journal.finish("x", DONE)).toThrow(`journal ${file}: finish failed: `);
  });
});
