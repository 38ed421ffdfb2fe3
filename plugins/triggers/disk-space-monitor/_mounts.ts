/**
 * The mounted filesystems worth watching, from /proc/self/mountinfo (Linux): a file read, no `df`.
 * mountinfo rather than mounts because it names the device, so a filesystem mounted in several
 * places (bind mounts, btrfs subvolumes, a container's /etc/hosts) is reported once.
 */
import { readFileSync } from "node:fs";

export interface Mount {
  mount: string;
  device: string;
  fsType: string;
  source: string;
}

/** Mount points with their device ("major:minor"), type and source, in mount order. */
export function parseMountinfo(text: string): (Mount & { root: string })[] {
  const mounts: (Mount & { root: string })[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (dash < 6) continue;
    mounts.push({ device: fields[2] as string, root: unescape(fields[3] as string), mount: unescape(fields[4] as string), fsType: fields[dash + 1] ?? "", source: unescape(fields[dash + 2] ?? "") });
  }
  return mounts;
}

/**
 * Drops excluded types and mount points, then keeps one mount per device: the whole filesystem
 * (root "/") before a bind mount of part of it, then the shortest mount point, as df does.
 */
export function selectMounts(all: (Mount & { root: string })[], excludeTypes: readonly string[], excludeMounts: readonly string[]): Mount[] {
  const types = new Set(excludeTypes);
  const byDevice = new Map<string, Mount & { root: string }>();
  // A later mount on the same point hides the earlier one.
  const visible = new Map(all.map((m) => [m.mount, m]));
  for (const m of visible.values()) {
    if (types.has(m.fsType) || excluded(m.mount, excludeMounts)) continue;
    const kept = byDevice.get(m.device);
    if (!kept || better(m, kept)) byDevice.set(m.device, m);
  }
  return [...byDevice.values()].map(({ root: _root, ...m }) => m).sort((a, b) => a.mount.localeCompare(b.mount));
}

export function readMounts(excludeTypes: readonly string[], excludeMounts: readonly string[], path = "/proc/self/mountinfo"): Mount[] {
  return selectMounts(parseMountinfo(readFileSync(path, "utf8")), excludeTypes, excludeMounts);
}

/** "/x" excludes the mount point /x; "/x/*" every mount below /x (not /x itself). */
export function excluded(mount: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => (p.endsWith("/*") ? mount.startsWith(p.slice(0, -1)) : mount === p));
}

function better(m: { root: string; mount: string }, kept: { root: string; mount: string }): boolean {
  if ((m.root === "/") !== (kept.root === "/")) return m.root === "/";
  return m.mount.length < kept.mount.length;
}

/** The kernel writes space, tab, newline and backslash in paths as octal escapes. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}
