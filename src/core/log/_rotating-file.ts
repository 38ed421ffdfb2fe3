import { appendFileSync, closeSync, fstatSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { StavilyError } from "../errors.ts";
import { backupName, type BackupPolicy, maintainBackups } from "./_backups.ts";

export interface RotatingFileOptions extends BackupPolicy {
  /** Absolute path of the live file. */
  file: string;
  /** Rotate before a write would take the file past this many bytes; 0 = never. */
  max_size: number;
  /** Failures that cost no line (a rotation or compression that failed); a failed write throws instead. */
  onError: (error: unknown) => void;
}

export interface RotatingFile {
  /** Appends synchronously: the line is in the file when this returns, even if the process dies next. */
  write(line: string): void;
  /** Closes the file and waits for compression and pruning. Later writes still land in the file. */
  close(): Promise<void>;
}

function openLog(file: string): { fd: number; size: number } {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o750 });
    const fd = openSync(file, "a", 0o640);
    return { fd, size: fstatSync(fd).size };
  } catch (error) {
    throw new StavilyError("log", `cannot open log file ${file}`, { cause: error });
  }
}

function writeAll(fd: number, data: Uint8Array): void {
  let offset = 0;
  while (offset < data.length) offset += writeSync(fd, data, offset);
}

/**
 * A log file rotated by size. Rotation is a rename and a fresh open between two synchronous writes, so
 * no line can fall between files; compressing and pruning the backups run afterwards, off the write path.
 */
export function createRotatingFile(options: RotatingFileOptions): RotatingFile {
  const { file, max_size, onError } = options;
  let { fd, size } = openLog(file);
  let closed = false;
  let maintenance: Promise<void> | undefined;
  let again = false;

  // At most one maintenance runs at a time; rotations during one ask for one more pass, not one each.
  async function drain(): Promise<void> {
    while (again) {
      again = false;
      try {
        await maintainBackups(file, options);
      } catch (error) {
        onError(new StavilyError("log", `cannot compress or prune the backups of ${file}`, { cause: error }));
      }
    }
    maintenance = undefined;
  }

  function scheduleMaintenance(): void {
    again = true;
    maintenance ??= drain();
  }

  function rotate(): void {
    closeSync(fd);
    // Never write through a closed descriptor: the number may already belong to another file.
    fd = -1;
    let renamed = false;
    try {
      renameSync(file, backupName(file, new Date()));
      renamed = true;
    } catch (error) {
      onError(new StavilyError("log", `cannot rotate ${file}; writing on to it`, { cause: error }));
    }
    ({ fd, size } = openLog(file));
    if (renamed) scheduleMaintenance();
    // Retry after another max_size bytes, not on every line.
    else size = 0;
  }

  // Backups left by an earlier run may be due for compression or pruning.
  scheduleMaintenance();

  return {
    write(line) {
      const data = Buffer.from(line);
      if (closed) {
        appendFileSync(file, data, { mode: 0o640 });
        return;
      }
      // After a failed reopen, try again rather than write nowhere.
      if (fd < 0) ({ fd, size } = openLog(file));
      // A line bigger than max_size still gets a file of its own rather than rotating forever.
      if (max_size > 0 && size > 0 && size + data.length > max_size) rotate();
      writeAll(fd, data);
      size += data.length;
    },
    async close() {
      if (!closed) {
        closed = true;
        if (fd >= 0) closeSync(fd);
        fd = -1;
      }
      await maintenance;
    },
  };
}
