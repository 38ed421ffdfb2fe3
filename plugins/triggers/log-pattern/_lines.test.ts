import { expect, test } from "bun:test";
import { type Line, scanLines } from "./_lines.ts";

const run = (text: string, options: { skipping?: boolean; max?: number; final?: boolean; stopAt?: number } = {}) => {
  const lines: Line[] = [];
  const scan = scanLines(Buffer.from(text), 100, options.skipping ?? false, options.max ?? 10, options.final ?? false, (line) => {
    if (options.stopAt !== undefined && lines.length >= options.stopAt) return false;
    lines.push(line);
    return true;
  });
  return { lines, ...scan };
};

test("complete lines are consumed, a partial last one is not", () => {
  expect(run("ab\r\ncd\nef")).toEqual({
    lines: [{ text: "ab", offset: 100, truncated: false }, { text: "cd", offset: 104, truncated: false }],
    consumed: 7,
    skipping: false,
    stopped: false,
  });
});

test("final: the partial last line of a finished file counts", () => {
  expect(run("ab\nef", { final: true }).lines.map((l) => l.text)).toEqual(["ab", "ef"]);
});

test("long lines: cut at max; without their newline the rest is skipped", () => {
  expect(run("0123456789abc\nx\n").lines).toEqual([{ text: "0123456789", offset: 100, truncated: true }, { text: "x", offset: 114, truncated: false }]);
  expect(run("0123456789abc")).toMatchObject({ lines: [{ text: "0123456789", truncated: true }], consumed: 13, skipping: true });
  expect(run("still long\nnext\n", { skipping: true }).lines.map((l) => l.text)).toEqual(["next"]);
});

test("a refused line stays unconsumed", () => {
  expect(run("a\nb\nc\n", { stopAt: 1 })).toMatchObject({ consumed: 2, stopped: true });
});
