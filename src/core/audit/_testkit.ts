/** Helpers for audit tests (here and in test/cli): a real log across rotations, and ways to tamper with it. */
import { readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { auditFiles } from "./_files.ts";
import { createAuditLog, type AuditLogOptions } from "./_log.ts";
import { tempDirs as makeTempDirs } from "../../../test/support/temp.ts";

export const tempDirs = () => makeTempDirs("stavily-audit-");

export function auditOptions(dir: string, overrides: Partial<AuditLogOptions> = {}): AuditLogOptions {
  return { enabled: true, log_file: join(dir, "audit.log"), max_size: 0, max_backups: 0, max_age: 0, agent_id: "web-01", ...overrides };
}

/**
 * Writes `count` instruction records into `dir`, rotating about every three records, and returns the
 * files oldest first (the live file last).
 */
export async function writeRotatedLog(dir: string, count = 12, overrides: Partial<AuditLogOptions> = {}): Promise<string[]> {
  const errors: unknown[] = [];
  const options = auditOptions(dir, { max_size: 700, onError: (error) => errors.push(error), ...overrides });
  const log = createAuditLog(options);
  for (let i = 1; i <= count; i++) log.record("instruction.received", { instruction_id: `i-${i}`, plugin_id: "echo", type: "execute" });
  await log.close();
  if (errors.length > 0) throw errors[0];
  return auditFiles(dir, basename(options.log_file)).map((file) => file.path);
}

export function readLines(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n");
}

export function writeLines(file: string, lines: string[]): void {
  writeFileSync(file, lines.map((line) => `${line}\n`).join(""));
}

/** Applies `edit` to the lines of `file` (1-based line numbers in the callers' comments). */
export function editLines(file: string, edit: (lines: string[]) => void): void {
  const lines = readLines(file);
  edit(lines);
  writeLines(file, lines);
}

/** Ways records get tampered with, each on line `line` (1-based) of `file`. */
export const tamper = {
  alterField(file: string, line: number): void {
    editLines(file, (lines) => (lines[line - 1] = lines[line - 1]!.replace(/"plugin_id":"echo"/, '"plugin_id":"shell"')));
  },
  deleteLine(file: string, line: number): void {
    editLines(file, (lines) => lines.splice(line - 1, 1));
  },
  swapWithNext(file: string, line: number): void {
    editLines(file, (lines) => ([lines[line - 1], lines[line]] = [lines[line]!, lines[line - 1]!]));
  },
  truncateLast(file: string): void {
    const text = readFileSync(file, "utf8");
    writeFileSync(file, text.slice(0, text.length - 20));
  },
};
