import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TriggerEvent } from "../protocol/index.ts";
import { openEventSpool, type EventSpoolOptions } from "./events.ts";

const dir = mkdtempSync(join(tmpdir(), "stavily-spool-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const event = (id: string, trigger = "t1", size = 0): TriggerEvent => ({
  id,
  type: "test.event",
  source: "test",
  trigger_id: trigger,
  agent_id: "a",
  timestamp: new Date(0).toISOString(),
  severity: "medium",
  data: size ? { pad: "x".repeat(size) } : {},
  metadata: {},
  tags: [],
});

const LARGE: EventSpoolOptions = { maxEvents: 1000, maxBytes: 10_000_000, overflow: "drop_oldest" };
let files = 0;

for (const [name, path] of [
  ["in memory", () => ":memory:"],
  ["on disk", () => join(dir, `spool-${++files}.db`)],
] as const) {
  describe(`event spool ${name}`, () => {
    test("events come out oldest first and leave only when acknowledged", () => {
      const spool = openEventSpool(path(), LARGE);
      spool.append([event("a"), event("b", "t2")]);
      spool.append([event("c")]);
      expect(spool.peek(2).map((item) => item.event.id)).toEqual(["a", "b"]);
      spool.acknowledge(["a", "b"]);
      expect(spool.peek(10).map((item) => item.event.id)).toEqual(["c"]);
      expect(spool.counters()).toEqual({ delivered: 2, dropped: 0 });
      spool.close();
    });

    test("an event id already spooled is not spooled twice", () => {
      const spool = openEventSpool(path(), LARGE);
      spool.append([event("dup"), event("dup")]);
      spool.append([event("dup")]);
      expect(spool.depth().events).toBe(1);
      spool.close();
    });

    test("over the count, the oldest are dropped and counted", () => {
      const spool = openEventSpool(path(), { ...LARGE, maxEvents: 3 });
      const { dropped } = spool.append(["1", "2", "3", "4", "5"].map((id) => event(id)));
      expect(dropped).toBe(2);
      expect(spool.peek(10).map((item) => item.event.id)).toEqual(["3", "4", "5"]);
      expect(spool.counters().dropped).toBe(2);
      spool.close();
    });

    test("with drop_newest, the newest are dropped instead", () => {
      const spool = openEventSpool(path(), { ...LARGE, maxEvents: 3, overflow: "drop_newest" });
      spool.append(["1", "2", "3"].map((id) => event(id)));
      expect(spool.append([event("4")]).dropped).toBe(1);
      expect(spool.peek(10).map((item) => item.event.id)).toEqual(["1", "2", "3"]);
      spool.close();
    });

    test("over the byte limit, events are dropped until it fits", () => {
      const spool = openEventSpool(path(), { ...LARGE, maxBytes: 2_500 });
      spool.append(["1", "2", "3"].map((id) => event(id, "t1", 1_000)));
      expect(spool.depth().bytes).toBeLessThanOrEqual(2_500);
      expect(spool.peek(10).map((item) => item.event.id)).toEqual(["2", "3"]);
      spool.close();
    });
  });
}

test("kill -9 right after an append loses nothing that append returned for", async () => {
  const file = join(dir, "killed.db");
  const script = join(dir, "writer.ts");
  await Bun.write(
    script,
    `import { openEventSpool } from ${JSON.stringify(join(import.meta.dir, "events.ts"))};
     const spool = openEventSpool(${JSON.stringify(file)}, { maxEvents: 100000, maxBytes: 1e9, overflow: "drop_oldest" });
     const ev = (id) => ({ id, type: "t", source: "s", trigger_id: "t", agent_id: "a", timestamp: new Date(0).toISOString(), severity: "low", data: {}, metadata: {}, tags: [] });
     for (let i = 0; i < 500; i++) spool.append([ev("e" + i)]);
     console.log("appended");
     setInterval(() => {}, 1000);`,
  );
  const writer = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "inherit" });
  const first = await writer.stdout.getReader().read();
  expect(new TextDecoder().decode(first.value)).toContain("appended");
  writer.kill(9);
  await writer.exited;
  const spool = openEventSpool(file, LARGE);
  expect(spool.depth().events).toBe(500);
  expect(spool.peek(1)[0]?.event.id).toBe("e0");
  spool.close();
});

test("a write that fails (disk full, read-only, closed) names the spool file and the step", () => {
  const file = join(dir, "failing.db");
  const spool = openEventSpool(file, LARGE);
  spool.close();
  expect(() => spool.append([event("x")])).toThrow(`event spool ${file}: append failed: `);
  expect(() => spool.acknowledge(["x"])).toThrow(`event spool ${file}: acknowledge failed: `);
});
