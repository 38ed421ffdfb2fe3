import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { LogIO, LogStream } from "./_sink.ts";
import { tempDirs as makeTempDirs } from "../../../test/support/temp.ts";

/** A temp directory per test, removed by `cleanup`. */
export const tempDirs = () => makeTempDirs("stavily-log-");

/** A stream that records what is written; `isTTY` as given. */
export function memoryStream(isTTY?: boolean): LogStream & { text(): string; lines(): string[] } {
  const chunks: string[] = [];
  return {
    isTTY,
    write(chunk, callback) {
      chunks.push(chunk);
      callback?.();
      return true;
    },
    text: () => chunks.join(""),
    lines: () => chunks.join("").split("\n").filter((line) => line !== ""),
  };
}

export function memoryIO(options: { isTTY?: boolean; env?: Record<string, string | undefined> } = {}) {
  const io = { stdout: memoryStream(options.isTTY), stderr: memoryStream(options.isTTY), env: options.env ?? {} };
  return io satisfies LogIO;
}

export function readJsonLines(path: string): Record<string, unknown>[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

export function listDir(dir: string): string[] {
  return readdirSync(dir).sort();
}
