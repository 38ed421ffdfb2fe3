/**
 * copy, move, delete, mkdir, write and chmod, only below the agent's configured allowed_paths (and
 * the plugin's work dir), with symlinks resolved so none leads outside. Writes and copies are
 * atomic; setuid and setgid bits are never set.
 *
 * ctx.fs has no copy, rename, remove, mkdir or chmod yet, and its roots are the manifest's fixed
 * permissions.filesystem rather than the local allowed_paths, so this plugin confines itself
 * (_paths.ts) and touches files in one place (_ops.ts) until ctx.fs can do both.
 */
import { dirname } from "node:path";
import type { ActionOutput, PluginContext } from "../../../src/sdk/index.ts";
import { defineAction } from "../../../src/sdk/index.ts";
import { ConfigSchema, type FileOpsConfig } from "./_config.ts";
import { conflict, invalid, refused } from "./_errors.ts";
import { chmodNoFollow, copyFileAtomic, copyTree, deleteEntry, lstatOrNull, makeDir, moveEntry, writeAtomic } from "./_ops.ts";
import { formatMode, parseMode, parseParams, type AnyParams, type Params } from "./_params.ts";
import { areaOf, entry, followed, inside, isRoot, makeParents, type Area } from "./_paths.ts";

type Ctx = PluginContext<FileOpsConfig>;

export default defineAction<FileOpsConfig>({
  configSchema: ConfigSchema,
  async execute(ctx, request): Promise<ActionOutput> {
    const params = parseParams(request.parameters);
    const area = await areaOf(ctx.config.allowed_paths, ctx.workDir);
    const data = await run(ctx, params, area);
    ctx.logger.info(params.operation, data);
    return { status: "completed", data: { operation: params.operation, ...data } };
  },
});

function run(ctx: Ctx, params: AnyParams, area: Area): Promise<Record<string, unknown>> {
  switch (params.operation) {
    case "copy":
      return copy(ctx, params, area);
    case "move":
      return move(ctx, params, area);
    case "delete":
      return remove(ctx, params, area);
    case "mkdir":
      return makeDirectory(params, area);
    case "write":
      return write(ctx, params, area);
    case "chmod":
      return changeMode(params, area);
  }
}

/** The destination entry, its missing parents created first when asked. */
async function destination(given: string, parents: boolean, area: Area, field: string): Promise<string> {
  if (parents) await makeParents(dirname(given), area, field, 0o755);
  return entry(given, area, field);
}

async function copy(ctx: Ctx, p: Params<"copy">, area: Area) {
  const source = await followed(p.source, area, "source");
  const info = await lstatOrNull(source);
  if (!info) throw conflict("not_found", `source ${p.source} does not exist`);
  if (info.isDirectory() && !p.recursive) throw invalid("recursive", `source ${p.source} is a directory; set recursive: true to copy it`);
  const target = await destination(p.destination, p.parents, area, "destination");
  if (info.isDirectory() && inside(target, [source])) throw invalid("destination", `${p.destination} is inside the source directory`);
  const bytes = info.isDirectory() ? await copyTree(source, target, ctx.signal) : await copyFileAtomic(source, target, p.overwrite, ctx.signal);
  return { source, destination: target, type: info.isDirectory() ? "directory" : "file", bytes };
}

async function move(ctx: Ctx, p: Params<"move">, area: Area) {
  const source = await entry(p.source, area, "source");
  if (isRoot(source, area)) throw refused(`source ${p.source} is an allowed path itself; it cannot be moved`);
  const info = await lstatOrNull(source);
  if (!info) throw conflict("not_found", `source ${p.source} does not exist`);
  const target = await destination(p.destination, p.parents, area, "destination");
  if (info.isDirectory() && inside(target, [source])) throw invalid("destination", `${p.destination} is inside the source directory`);
  await moveEntry(source, target, p.overwrite, ctx.signal);
  return { source, destination: target, type: info.isDirectory() ? "directory" : info.isSymbolicLink() ? "symlink" : "file" };
}

async function remove(ctx: Ctx, p: Params<"delete">, area: Area) {
  const target = await entry(p.path, area, "path");
  if (isRoot(target, area)) throw refused(`path ${p.path} is an allowed path itself; it cannot be deleted`);
  const info = await lstatOrNull(target);
  if (!info) {
    if (p.missing_ok) return { path: target, deleted: false };
    throw conflict("not_found", `path ${p.path} does not exist (set missing_ok: true to accept that)`);
  }
  if (info.isDirectory() && p.recursive && !ctx.config.allow_recursive_delete) {
    throw refused(`path ${p.path}: deleting a directory tree needs allow_recursive_delete: true in the agent's local config`);
  }
  await deleteEntry(target, info, p.recursive);
  return { path: target, deleted: true, type: info.isDirectory() ? "directory" : info.isSymbolicLink() ? "symlink" : "file" };
}

async function makeDirectory(p: Params<"mkdir">, area: Area) {
  const mode = parseMode(p.mode ?? "0755");
  const target = await destination(p.path, p.parents, area, "path");
  const created = await makeDir(target, mode);
  return { path: target, created, mode: formatMode(mode) };
}

async function write(ctx: Ctx, p: Params<"write">, area: Area) {
  const mode = p.mode === undefined ? undefined : parseMode(p.mode);
  const content = p.encoding === "base64" ? decodeBase64(p.content) : Buffer.from(p.content, "utf8");
  if (content.length > ctx.config.max_write_size) {
    throw invalid("content", `${content.length} bytes is more than the agent's max_write_size (${ctx.config.max_write_size})`);
  }
  const target = await destination(p.path, p.parents, area, "path");
  const result = await writeAtomic(target, content, { mode, overwrite: p.overwrite });
  return { path: target, bytes: content.length, created: result.created, mode: formatMode(result.mode) };
}

async function changeMode(p: Params<"chmod">, area: Area) {
  const mode = parseMode(p.mode);
  const target = await followed(p.path, area, "path");
  const before = await chmodNoFollow(target, mode);
  return { path: target, mode: formatMode(mode), previous_mode: formatMode(before) };
}

/** Strict: Buffer.from skips what it cannot read, so the decoded bytes must encode back to the input. */
function decodeBase64(text: string): Buffer {
  const clean = text.replace(/\s/g, "").replace(/=+$/, "");
  const bytes = Buffer.from(clean, "base64");
  if (bytes.toString("base64").replace(/=+$/, "") !== clean) throw invalid("content", "not valid base64");
  return bytes;
}
