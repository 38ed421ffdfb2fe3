/** The configuration; plugin.yaml declares the same fields and defaults (a test checks they agree). */
import { isAbsolute } from "node:path";
import * as v from "valibot";

/** Pseudo, in-memory and read-only image filesystems: nothing that fills up a disk. */
export const DEFAULT_EXCLUDE_FS_TYPES = [
  "tmpfs", "devtmpfs", "overlay", "squashfs", "proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue",
  "debugfs", "tracefs", "securityfs", "pstore", "bpf", "configfs", "fusectl", "hugetlbfs", "autofs",
  "binfmt_misc", "rpc_pipefs", "nsfs", "ramfs", "efivarfs", "selinuxfs", "iso9660", "nfsd", "fuse.lxcfs",
  "fuse.gvfsd-fuse", "fuse.portal", "fuse.snapfuse",
];

const percent = (fallback: number) => v.optional(v.pipe(v.number(), v.minValue(0)), fallback);
const absolute = v.pipe(v.string(), v.check(isAbsolute, "expected an absolute path"));

export const ConfigSchema = v.pipe(
  v.object({
    /** Paths to watch (each one's filesystem); empty: every mounted filesystem not excluded below. */
    paths: v.optional(v.array(absolute), []),
    /** Filesystem types skipped when watching every mount. */
    exclude_fs_types: v.optional(v.array(v.string()), () => [...DEFAULT_EXCLUDE_FS_TYPES]),
    /** Mount points skipped when watching every mount; "/x/*" skips every mount below /x. */
    exclude_mounts: v.optional(v.array(absolute), []),
    /** Percent used at or above which disk.high is reported with severity medium. */
    warning: percent(80),
    /** Percent used at or above which disk.high is reported with severity high. */
    critical: percent(90),
    /** A statfs slower than this makes the path unavailable for this detect (a hung network mount). */
    timeout_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(10)), 2000),
  }),
  v.check((c) => c.warning <= c.critical, "warning is above critical"),
);

export type DiskConfig = v.InferOutput<typeof ConfigSchema>;
