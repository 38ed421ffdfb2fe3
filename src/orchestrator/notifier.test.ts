import { describe, expect, test } from "bun:test";
import { createNotifier } from "./notifier.ts";

describe("notifier", () => {
  test("a notification between listen and wait is not lost", async () => {
    const notifier = createNotifier();
    const listener = notifier.listen("a");
    notifier.notify("a");
    expect(await listener.wait(60_000)).toBe("notified");
    listener.stop();
  });

  test("wakes only listeners of that agent; others time out", async () => {
    const notifier = createNotifier();
    const a = notifier.listen("a");
    const b = notifier.listen("b");
    const waits = [a.wait(60_000), b.wait(10)];
    expect(notifier.listening()).toBe(2);
    notifier.notify("a");
    expect(await Promise.all(waits)).toEqual(["notified", "timeout"]);
    a.stop();
    b.stop();
    expect(notifier.listening()).toBe(0);
  });

  test("close releases waiting listeners and later ones at once; an aborted signal too", async () => {
    const notifier = createNotifier();
    const listener = notifier.listen("a");
    const waiting = listener.wait(60_000);
    notifier.close();
    expect(await waiting).toBe("closed");
    expect(await notifier.listen("a").wait(60_000)).toBe("closed");
    const other = createNotifier().listen("a");
    const controller = new AbortController();
    const aborted = other.wait(60_000, controller.signal);
    controller.abort();
    expect(await aborted).toBe("closed");
  });
});
