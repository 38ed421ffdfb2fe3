/**
 * file: appends each batch as JSON lines to `path`, with the agent's own rotating log writer
 * (src/core/log/_rotating-file.ts): rotation by size between two batches, backups pruned by count
 * and age and optionally gzipped off the write path.
 *
 * A batch is one synchronous write of whole lines, after the rotation check, so a batch — and every
 * line — lands in one file, complete; `send` resolves once it is in the file (and on disk with
 * `fsync`). A failed write throws a retryable error: the sensor may send the batch again, so a
 * batch can be written twice (at-least-once), never half.
 *
 * Why node:fs and not ctx.fs: ctx.fs can only replace a whole file. The path written is exactly the
 * granted one (config:path); rotation adds `<path>.<stamp>[.gz]` backups beside it.
 */
import { accessSync, closeSync, constants, fsyncSync, openSync, statSync, truncateSync } from "node:fs";
import { dirname } from "node:path";
import { createRotatingFile, type RotatingFile } from "../../../src/core/log/_rotating-file.ts";
import { defineOutput, perInstance, type PluginContext, type PluginLogger } from "../../../src/sdk/index.ts";
import { ConfigSchema, type FileConfig } from "./_config.ts";

type Ctx = PluginContext<FileConfig>;

/** One writer per instance (ctx.state is made once per instance), opened by the first send. */
const writers = perInstance(() => ({ file: undefined as RotatingFile | undefined }));

export default defineOutput({
  configSchema: ConfigSchema,
  init(ctx) {
    checkDirectory(ctx.config.path);
  },
  async send(ctx, batch) {
    if (batch.length === 0) return;
    const text = batch.map((event) => `${JSON.stringify(event) ?? "null"}\n`).join("");
    const file = writer(ctx);
    const before = position(ctx.config.path);
    try {
      file.write(text);
      if (ctx.config.fsync) sync(ctx.config.path);
    } catch (cause) {
      rollback(ctx, before);
      throw ctx.retryable(fileError(`cannot append ${batch.length} event${batch.length === 1 ? "" : "s"} to ${ctx.config.path}: ${(cause as Error).message}`, cause));
    }
  },
  async stop(ctx) {
    const slot = writers(ctx.state);
    const file = slot.file;
    slot.file = undefined;
    // Waits for a compression or pruning in progress, so stop leaves no half-made .gz.tmp behind.
    await file?.close();
  },
});

function writer(ctx: Ctx): RotatingFile {
  const slot = writers(ctx.state);
  slot.file ??= createRotatingFile({
    file: ctx.config.path,
    max_size: ctx.config.max_size,
    max_backups: ctx.config.max_backups,
    max_age: ctx.config.max_age,
    compress: ctx.config.compress,
    onError: reportTo(ctx.logger),
  });
  return slot.file;
}

/** Rotation and compression problems cost no event (the writer goes on in the live file): logged. */
function reportTo(logger: PluginLogger) {
  return (error: unknown) => logger.warn("file: rotation or backup maintenance failed; writing on", error instanceof Error ? { error: error.message, cause: (error.cause as Error | undefined)?.message } : { error: String(error) });
}

/**
 * The directory is not created: a mistyped path should fail at start, not grow a tree, and under
 * the strict sandbox only granted paths exist. Rotation renames inside it, so it must be writable.
 */
function checkDirectory(path: string): void {
  const dir = dirname(path);
  let isDirectory = false;
  try {
    isDirectory = statSync(dir).isDirectory();
    if (isDirectory) accessSync(dir, constants.W_OK);
  } catch (cause) {
    throw fileError(`the directory of path, ${dir}, ${isDirectory ? "is not writable" : "does not exist"} (${(cause as Error).message})`, cause);
  }
  if (!isDirectory) throw fileError(`the directory of path, ${dir}, is not a directory`);
  try {
    if (statSync(path).isDirectory()) throw fileError(`path ${path} is a directory; expected a file`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

/** Where the live file ends before a batch: its inode tells whether the write rotated it. */
function position(path: string): { ino: number; size: number } | undefined {
  try {
    const info = statSync(path);
    return { ino: info.ino, size: info.size };
  } catch {
    return undefined;
  }
}

/**
 * A write that failed part-way (ENOSPC) leaves the start of a batch; cutting it off keeps every
 * line whole when the batch is sent again. A file rotated by this very write holds nothing else.
 */
function rollback(ctx: Ctx, before: { ino: number; size: number } | undefined): void {
  const now = position(ctx.config.path);
  if (!now) return;
  const keep = before && before.ino === now.ino ? before.size : 0;
  if (now.size <= keep) return;
  try {
    truncateSync(ctx.config.path, keep);
  } catch (error) {
    ctx.logger.error("file: a failed batch left a partial line that could not be cut off", { path: ctx.config.path, bytes: now.size - keep, error: (error as Error).message });
  }
}

/**
 * fsync is per file, not per descriptor: a second descriptor flushes what the writer wrote. The
 * rotation check runs before a write, so the batch just written is in the file now at `path`.
 */
function sync(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fileError(message: string, cause?: unknown): Error & { code: string } {
  return Object.assign(new Error(`file: ${message}`, { cause }), { code: "file_failed" });
}
