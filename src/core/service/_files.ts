/**
 * Writing service files so that a reader (systemd, launchd, the agent) sees the old file or the
 * new one, never half of one: temp file beside it, fsync, rename.
 */
import { closeSync, fchmodSync, fchownSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export interface FileOwner {
  uid: number;
  gid: number;
}

export function writeAtomic(file: string, text: string, mode: number, owner?: FileOwner): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  // Created with its final mode and owner before any byte lands, so a secret is never readable by others.
  const fd = openSync(temp, "wx", mode);
  try {
    // The umask filtered open's mode; group read of a config must not depend on it.
    fchmodSync(fd, mode);
    if (owner && process.platform !== "win32") fchownSync(fd, owner.uid, owner.gid);
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  try {
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}
