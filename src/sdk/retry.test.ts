import { expect, test } from "bun:test";
import { retryDelay, wait } from "./retry.ts";

const options = { backoff_ms: 100, max_backoff_ms: 1000 };

test("backoff doubles per attempt up to max_backoff_ms", () => {
  expect([1, 2, 3, 4, 5].map((attempt) => retryDelay(attempt, null, options))).toEqual([100, 200, 400, 800, 1000]);
});

test("Retry-After in seconds or as a date wins, and one beyond max_backoff_ms ends the retries", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  expect(retryDelay(1, "0", options, now)).toBe(0);
  expect(retryDelay(1, "1", options, now)).toBe(1000);
  expect(retryDelay(1, "Thu, 01 Jan 2026 00:00:00 GMT", options, now + 5000)).toBe(0);
  expect(retryDelay(1, new Date(now + 1000).toUTCString(), options, now)).toBe(1000);
  expect(retryDelay(1, "2", options, now)).toBeUndefined();
  expect(retryDelay(2, "soon", options, now)).toBe(200);
});

test("wait rejects as soon as the signal aborts", async () => {
  const controller = new AbortController();
  const waiting = wait(60_000, controller.signal);
  controller.abort(new Error("stop"));
  await expect(waiting).rejects.toThrow("stop");
});
