import { describe, expect, test } from "bun:test";
import { formatDuration, formatSize, parseDuration, parseSize } from "./units.ts";

describe("parseDuration", () => {
  test.each([
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h30m", 5_400_000],
    ["250ms", 250],
    ["1.5s", 1_500],
    ["7d", 604_800_000],
    ["45", 45_000],
    [" 2m ", 120_000],
    [90, 90_000],
    [0.5, 500],
  ] as const)("%p → %p ms", (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  test.each(["thirty", "", "5 minutes", "1h30", "-5s", "s", "5x"])("rejects %p", (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });

  test("rejects negative and non-finite numbers", () => {
    expect(parseDuration(-1)).toBeUndefined();
    expect(parseDuration(Number.POSITIVE_INFINITY)).toBeUndefined();
  });

  test("formatDuration is the inverse for whole units", () => {
    for (const text of ["30s", "5m", "1h30m", "250ms", "7d", "1d2h3m4s5ms"]) expect(formatDuration(parseDuration(text)!)).toBe(text);
    expect(formatDuration(0)).toBe("0s");
  });
});

describe("parseSize", () => {
  test.each([
    ["128MB", 128_000_000],
    ["1GiB", 1024 ** 3],
    ["512 KiB", 512 * 1024],
    ["10kb", 10_000],
    ["100", 100],
    ["1.5MiB", 1.5 * 1024 ** 2],
    [4096, 4096],
  ] as const)("%p → %p bytes", (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });

  test.each(["big", "10 bytes", "1XB", "", "-1MB"])("rejects %p", (input) => {
    expect(parseSize(input)).toBeUndefined();
  });

  test("rejects fractional and negative byte counts", () => {
    expect(parseSize(1.5)).toBeUndefined();
    expect(parseSize(-1)).toBeUndefined();
  });

  test("formatSize prefers exact binary units, then decimal", () => {
    expect(formatSize(512 * 1024 ** 2)).toBe("512MiB");
    expect(formatSize(100_000_000)).toBe("100MB");
    expect(formatSize(1023)).toBe("1023B");
  });
});
