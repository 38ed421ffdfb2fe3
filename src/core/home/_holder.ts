/**
 * `<home>/agent.pid`: who holds the home lock. Informational only — the lock itself is the kernel's — so a
 * refused agent can name the running one, and the next holder can tell that the last one died without releasing.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface Holder {
  pid: number;
  hostname: string;
  /** ISO 8601 time at which the holder took the lock. */
  startedAt: string;
}

export function holderFile(root: string): string {
  return path.join(root, "agent.pid");
}

export function currentHolder(): Holder {
  return { pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString() };
}

/** Written to a temporary file then renamed, so a reader never sees half a record. */
export function writeHolder(root: string, holder: Holder): void {
  const file = holderFile(root);
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temporary, `${JSON.stringify(holder)}\n`, { mode: 0o644 });
    fs.renameSync(temporary, file);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw error;
  }
}

/** The recorded holder, or undefined when there is none or the record is unreadable. */
export function readHolder(root: string): Holder | undefined {
  let text: string;
  try {
    text = fs.readFileSync(holderFile(root), "utf8");
  } catch {
    return undefined;
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null) return undefined;
    const { pid, hostname, startedAt } = value as Record<string, unknown>;
    if (typeof pid !== "number" || typeof hostname !== "string" || typeof startedAt !== "string") return undefined;
    return { pid, hostname, startedAt };
  } catch {
    return undefined;
  }
}

/** True when a record (readable or not) was left in place. */
export function holderExists(root: string): boolean {
  return fs.existsSync(holderFile(root));
}

export function removeHolder(root: string): void {
  fs.rmSync(holderFile(root), { force: true });
}
