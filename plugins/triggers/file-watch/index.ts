/**
 * file-watch: at each detect, a snapshot of the watched files (size, mtime, inode) is compared with
 * the previous one, kept in ctx.state; the difference is reported as file.created, file.modified
 * and file.deleted. Because the snapshot persists, the first detect after a restart reports what
 * changed while the agent was down.
 *
 * Polling rather than fs.watch: inotify/FSEvents miss changes on network filesystems, drop events
 * when their queue overflows, cost a watch per directory (fs.inotify.max_user_watches) and say
 * nothing about what happened while the agent was stopped, so a rescan is needed anyway. A scan
 * per detect costs one readdir per directory and one lstat per file, bounded by max_files.
 *
 * The tree is walked with node:fs, not ctx.fs: ctx.fs.stat has no inode and ctx.fs.list no file
 * types, and listing recursively through it would realpath every entry. Only the configured paths
 * (granted through config:paths) are read; see _scan.ts for the symlink rule.
 */
import { defineTrigger, type DetectedEvent } from "../../../src/sdk/index.ts";
import { scan, type FileInfo } from "./_scan.ts";
import { apply, diff, loadSnapshot, saveSnapshot, type Change } from "./_snapshot.ts";
import { ConfigSchema } from "./_schema.ts";

export default defineTrigger({
  configSchema: ConfigSchema,
  async detect(ctx) {
    const { config } = ctx;
    const fingerprint = JSON.stringify([config.paths, config.globs, config.exclude]);
    const found = await scan({ paths: config.paths, globs: config.globs, exclude: config.exclude, maxFiles: config.max_files });
    if (found.capped) ctx.logger.warn(`more than max_files (${config.max_files}) files: the rest are not watched, and no file counts as deleted`);
    if (found.unreadable.length > 0) ctx.logger.warn("directories that cannot be read: their files keep their last state", { directories: found.unreadable.slice(0, 20) });
    if (found.outside.length > 0) ctx.logger.warn("symlinks leading outside the watched paths are ignored", { links: found.outside.slice(0, 20) });
    if (found.missing.length > 0) ctx.logger.debug("watched paths that do not exist", { paths: found.missing });

    const saved = loadSnapshot(ctx.state, fingerprint);
    if (saved === undefined && !config.report_existing) {
      saveSnapshot(ctx.state, fingerprint, found.files);
      ctx.logger.info("first run: snapshot taken, changes are reported from the next detect on", { files: found.files.size });
      return [];
    }
    if (saved === "other") {
      saveSnapshot(ctx.state, fingerprint, found.files);
      ctx.logger.info("paths, globs or exclude changed: snapshot retaken, nothing reported", { files: found.files.size });
      return [];
    }
    const before = saved ?? new Map<string, FileInfo>();
    const below = found.unreadable.map((dir) => `${dir}/`);
    const keep = (path: string) => found.capped || below.some((dir) => path.startsWith(dir));
    const changes = diff(before, found.files, keep);
    const reported = changes.slice(0, config.max_events);
    if (changes.length > reported.length) ctx.logger.info(`${changes.length} changes: ${reported.length} reported now, the rest at the next detects`);
    if (reported.length > 0 || saved === undefined) saveSnapshot(ctx.state, fingerprint, apply(before, reported));
    return reported.map(toEvent);
  },
});

/** No severity: the trigger's applies. The dedupe_key makes the trigger's cooldown count per file and kind. */
function toEvent(change: Change): DetectedEvent {
  const type = `file.${change.kind}`;
  const info = change.kind === "deleted" ? change.before : change.now;
  const data: Record<string, unknown> = { path: change.path, size: info.size, mtime: new Date(info.mtimeMs).toISOString() };
  if (change.kind === "modified") {
    data.previous_size = change.before.size;
    data.previous_mtime = new Date(change.before.mtimeMs).toISOString();
    data.replaced = change.before.ino !== change.now.ino; // a new file renamed over it (atomic save)
  }
  return { type, data, dedupe_key: `${type}:${change.path}` };
}
