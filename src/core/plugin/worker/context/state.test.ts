/** ctx.state's detect runs, on the store itself: the overlay, its commit with the run marker, the run's event ids. */
import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { tempDirs } from "../_test-support.ts";
import { createPluginState, runEventId } from "./_state.ts";

const temp = tempDirs();
const opened: { close(): void }[] = [];
afterEach(() => {
  for (const state of opened.splice(0)) state.close();
  temp.cleanup();
});

/** The store of instance `t` in `dir`, as a fresh worker (a restarted agent) opens it. */
function open(dir: string) {
  const state = createPluginState(dir, "t");
  opened.push(state);
  return state;
}

const UUID_V8 = /^[\da-f]{8}-[\da-f]{4}-8[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/;

describe("ctx.state in a detect run", () => {
  test("the run reads its own writes first; keys() merges them; deletes hide committed keys", async () => {
    const state = open(temp.make());
    state.set("a", 1);
    state.set("b", 2);
    await state.beginRun(false).within(async () => {
      state.set("a", 10);
      await Bun.sleep(1); // the run is told by its async context, across awaits
      state.set("c", 3);
      expect(state.delete("b")).toBe(true);
      expect(state.delete("b")).toBe(false);
      expect(state.delete("never")).toBe(false);
      expect([state.get("a"), state.get("b"), state.get("c")]).toEqual([10, undefined, 3]);
      expect(state.keys()).toEqual(["a", "c"]);
    });
    // Nothing is committed yet: outside the run (another hook, watch) the state is as it was.
    expect([state.get("a"), state.get("b"), state.get("c")]).toEqual([1, 2, undefined]);
    expect(state.keys()).toEqual(["a", "b"]);
  });

  test("calls outside the run while it goes, and after it settled, are direct", async () => {
    const state = open(temp.make());
    let late: Promise<void> | undefined;
    const run = state.beginRun(false);
    const going = run.within(async () => {
      state.set("run", 1);
      await Bun.sleep(20);
      late = Bun.sleep(20).then(() => state.set("late", 1)); // left behind by the run
    });
    state.set("watch", 1);
    await going;
    await late;
    expect(state.keys()).toEqual(["late", "watch"]);
  });

  test("a run's writes are committed when the next run begins, if the host took its events", async () => {
    const state = open(temp.make());
    const first = state.beginRun(false);
    await first.within(async () => state.set("cursor", 1));
    first.end(0);
    expect(state.get("cursor")).toBeUndefined();
    const second = state.beginRun(true);
    expect(state.get("cursor")).toBe(1);
    expect(await second.within(async () => state.get("cursor"))).toBe(1);
  });

  test("a failed run, or one whose events the host refused, is dropped with its writes", async () => {
    const state = open(temp.make());
    const failed = state.beginRun(false);
    const thrown = failed.within(async () => {
      state.set("cursor", 1);
      throw new Error("detect failed");
    });
    await expect(thrown).rejects.toThrow("detect failed"); // never ended
    state.beginRun(true);
    expect(state.get("cursor")).toBeUndefined();
    const refused = state.beginRun(false);
    await refused.within(async () => state.set("cursor", 2));
    refused.end(1);
    state.beginRun(false); // the host did not take its events
    expect(state.get("cursor")).toBeUndefined();
  });

  test("a graceful stop commits the last run, if taken", async () => {
    const dir = temp.make();
    const state = open(dir);
    const run = state.beginRun(false);
    await run.within(async () => state.set("cursor", 7));
    run.end(1);
    state.commitRun(true);
    state.close();
    expect(open(dir).get("cursor")).toBe(7);
  });

  test("the run marker is not a key, and no key can reach it", async () => {
    const dir = temp.make();
    const state = open(dir);
    const run = state.beginRun(false);
    run.eventId(0);
    await run.within(async () => state.set("\u0000run", "mine"));
    run.end(1);
    state.beginRun(true);
    expect(state.keys()).toEqual(["\u0000run"]);
    const db = new Database(join(dir, "state.sqlite"), { readonly: true });
    try {
      expect(db.query("SELECT count(*) AS n FROM runs WHERE instance = 't'").get()).toEqual({ n: 1 });
    } finally {
      db.close();
    }
  });
});

describe("event ids of a run", () => {
  test("a UUIDv8, the same for the same marker and index, different otherwise", () => {
    const marker = crypto.randomUUID();
    expect(runEventId(marker, 0)).toMatch(UUID_V8);
    expect(runEventId(marker, 0)).toBe(runEventId(marker, 0));
    expect(runEventId(marker, 1)).not.toBe(runEventId(marker, 0));
    expect(runEventId(crypto.randomUUID(), 0)).not.toBe(runEventId(marker, 0));
  });

  test("a commit brings a fresh marker; a run with no events and no writes keeps it", () => {
    const state = open(temp.make());
    const first = state.beginRun(false);
    const id = first.eventId(0);
    first.end(0);
    const idle = state.beginRun(true);
    expect(idle.eventId(0)).toBe(id);
    idle.end(0);
    const emitting = state.beginRun(true);
    expect(emitting.eventId(0)).toBe(id);
    emitting.end(1); // events but no writes: its ids are spent all the same
    expect(state.beginRun(true).eventId(0)).not.toBe(id);
  });

  test("an agent killed before the commit re-runs from the same state with the same ids", async () => {
    const dir = temp.make();
    const before = open(dir);
    const run = before.beginRun(false);
    await run.within(async () => before.set("emitted", 1));
    const ids = [run.eventId(0), run.eventId(1)];
    run.end(2);
    // kill -9: no next run, no stop; a new worker opens the same file.
    const after = open(dir);
    const again = after.beginRun(false);
    expect(after.get("emitted")).toBeUndefined();
    expect([again.eventId(0), again.eventId(1)]).toEqual(ids);
    await again.within(async () => after.set("emitted", 1));
    again.end(2);
    const next = after.beginRun(true);
    expect(after.get("emitted")).toBe(1);
    expect(next.eventId(0)).not.toBe(ids[0]);
  });
});
