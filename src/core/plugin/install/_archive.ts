/**
 * What the tar and zip readers hand the extractor: one entry at a time, its body streamed, so the extractor can
 * refuse an entry (and stop reading the archive) before anything it did not want reaches the disk.
 */
import { StavilyError } from "../../errors.ts";

export type EntryKind = "file" | "directory" | "symlink" | "hardlink" | "other";

export interface ArchiveEntry {
  /** The name exactly as the archive spells it; never trusted as a path. */
  name: string;
  kind: EntryKind;
  /** Human words for `kind` in refusals: "symbolic link", "character device", … */
  label: string;
  /** Permission bits as the archive declares them (only the execute bits are kept). */
  mode: number;
  /** Uncompressed size as the header declares it; the extractor counts what actually arrives. */
  size: number;
  /** Where a link points, as declared (for the refusal message). */
  linkTarget?: string;
  /** The content of a file; read it before asking for the next entry. */
  body(): AsyncIterable<Uint8Array>;
}

/** A refusal or a malformed archive; every one names the archive and, when there is one, the entry. */
export function archiveError(archive: string, problem: string, entry?: string, cause?: unknown): StavilyError {
  const where = entry === undefined ? `plugin archive ${archive}` : `plugin archive ${archive}: entry ${JSON.stringify(entry)}`;
  return new StavilyError("plugin", `${where}: ${problem}`, { cause });
}
