import { describe, expect, test } from "bun:test";
import { createLineSplitter, createRateGate, type Line } from "./_lines.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

function split(chunks: string[], max = 1024): Line[] {
  const lines: Line[] = [];
  const splitter = createLineSplitter(max, (line) => lines.push(line));
  for (const chunk of chunks) splitter.push(bytes(chunk));
  splitter.end();
  return lines;
}

describe("line splitter", () => {
  test("joins chunks and splits on newlines, CRLF included", () => {
    expect(split(['{"a":', '1}\n{"b"', ":2}\r\nlast"]).map((l) => l.text)).toEqual(['{"a":1}', '{"b":2}', "last"]);
  });

  test("keeps the start of an over-long line and counts its bytes", () => {
    expect(split(["abcdefghij", "klm\nok\n"], 4)).toEqual([
      { text: "abcd", truncated: true, bytes: 13 },
      { text: "ok", truncated: false, bytes: 2 },
    ]);
  });

  test("decodes UTF-8 split across chunks", () => {
    const euro = bytes("€\n");
    const lines: Line[] = [];
    const splitter = createLineSplitter(64, (line) => lines.push(line));
    splitter.push(euro.subarray(0, 1));
    splitter.push(euro.subarray(1));
    expect(lines.map((l) => l.text)).toEqual(["€"]);
  });

  test("empty lines are lines; nothing after the last newline is nothing", () => {
    expect(split(["a\n\nb\n"]).map((l) => l.text)).toEqual(["a", "", "b"]);
  });
});

describe("rate gate", () => {
  test("admits n lines a second and reports the dropped ones when the next window opens", () => {
    let now = 0;
    const reports: number[] = [];
    const gate = createRateGate(2, () => now);
    const admitted = [0, 1, 2, 3].map(() => gate.admit((n) => reports.push(n)));
    expect(admitted).toEqual([true, true, false, false]);
    now = 1000;
    expect(gate.admit((n) => reports.push(n))).toBe(true);
    expect(reports).toEqual([2]);
    gate.admit(() => {});
    gate.admit(() => {});
    gate.flush((n) => reports.push(n));
    expect(reports).toEqual([2, 1]);
  });
});
