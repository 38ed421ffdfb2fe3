/**
 * Why a database file cannot be written, as the OS says it (read-only file system, permission): when
 * SQLite cannot open a file it says only "unable to open database file".
 */
import { accessSync, constants } from "node:fs";
import { dirname } from "node:path";

/** The OS's reason `file` (or, when it does not exist yet, its directory) is not writable; undefined when it is. */
export function notWritable(file: string): string | undefined {
  for (const path of [file, dirname(file)]) {
    try {
      accessSync(path, constants.W_OK);
      return undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT" && path === file) continue;
      return (error as Error).message;
    }
  }
  return undefined;
}

/** " (EROFS: read-only file system, access '/x')" after an open error, or nothing. */
export function openProblem(file: string): string {
  if (file === ":memory:") return "";
  const why = notWritable(file);
  return why ? ` (${why})` : "";
}
