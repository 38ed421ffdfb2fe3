/**
 * Files that hold secrets (the agent's token, a TLS private key) must be private to their owner:
 * one readable by group or others is refused, naming the file, its mode and the fix. On Windows
 * POSIX modes mean nothing (ACLs decide), so the check is skipped there (docs/security.md).
 */
import { statSync } from "node:fs";
import { usageError } from "./errors.ts";

export function assertPrivateFile(file: string, setting: string, platform: NodeJS.Platform = process.platform): void {
  if (platform === "win32") return;
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch {
    return; // Reading it reports a missing or unreadable file with its own error.
  }
  if ((mode & 0o077) !== 0) {
    throw usageError("security", `${setting} ${file} is readable by others (mode ${mode.toString(8).padStart(4, "0")}); run: chmod 600 ${file}`);
  }
}
