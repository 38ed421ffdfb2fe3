/** Caps and deadlines of plugin installation, with their defaults; merged once in `installPlugin`. */

const MiB = 1024 * 1024;

export interface InstallLimits {
  /** Largest archive accepted as it is stored or downloaded (compressed). */
  maxArchiveBytes: number;
  /** Total bytes of the files of one plugin once extracted or copied. */
  maxBytes: number;
  /** Entries (files, directories, skipped links) in one plugin's tree. */
  maxEntries: number;
  /** Whole download of an archive URL, redirects included. */
  downloadTimeoutMs: number;
  /** Each git command (clone, fetch, checkout). */
  gitTimeoutMs: number;
  /** Bundling a TypeScript plugin with its npm dependencies. */
  bundleTimeoutMs: number;
}

export const DEFAULT_LIMITS: Readonly<InstallLimits> = {
  maxArchiveBytes: 100 * MiB,
  maxBytes: 512 * MiB,
  maxEntries: 50_000,
  downloadTimeoutMs: 120_000,
  gitTimeoutMs: 300_000,
  bundleTimeoutMs: 120_000,
};
