/**
 * Level `strict` on Linux: the plugin's process runs in bubblewrap (`bwrap`) namespaces with a minimal
 * read-only root. `buildBwrapArgv` is pure, so the exact policy is unit-tested; finding and probing
 * bwrap are the only parts that touch the machine.
 */
import fs from "node:fs";
import path from "node:path";
import { BUILTIN_PREFIX, type PluginLaunch } from "../types.ts";

/** Read-only for every plugin: programs, shared libraries and the loader's cache. Missing ones are skipped. */
export const SYSTEM_READ_ONLY = [
  "/usr",
  "/bin",
  "/sbin",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/etc/ld.so.cache",
  "/etc/ld.so.conf",
  "/etc/ld.so.conf.d",
  "/etc/alternatives",
  "/etc/localtime",
] as const;

/** Read-only only with the network: name resolution and the CA certificates TLS clients read. */
export const NETWORK_READ_ONLY = [
  "/etc/resolv.conf",
  "/etc/hosts",
  "/etc/nsswitch.conf",
  "/etc/host.conf",
  "/etc/gai.conf",
  "/etc/ssl",
  "/etc/ca-certificates",
  "/etc/pki",
] as const;

export interface BwrapPlan {
  /** Absolute path of bwrap. */
  bwrap: string;
  launch: PluginLaunch;
  /** Whether the plugin shares the host's network: `permissions.network` and `security.sandbox.network_access`. */
  network: boolean;
  /** Read-only paths the program itself needs: the stavily binary (or bun and the source tree), an interpreter's prefix. */
  programPaths: readonly string[];
  /** What runs inside. */
  command: readonly string[];
}

/**
 * Later mounts cover earlier ones, so the order is the policy: system (read-only), fresh /proc, /dev and
 * /tmp, the program, the plugin's dir (read-only), its granted read paths (read-only), its granted write
 * paths, then its work and state dirs (writable). Granted paths that do not exist at start are skipped.
 * No `--clearenv`: bwrap passes on the environment it is given, which is already the scrubbed one, and
 * `--setenv` would put the values in bwrap's command line, readable by every user in /proc.
 */
export function buildBwrapArgv(plan: BwrapPlan): string[] {
  const { launch } = plan;
  // A built-in's code is inside the stavily binary; its `dir` names it (`builtin:<id>`), it is no path.
  const pluginDir = launch.dir.startsWith(BUILTIN_PREFIX) ? [] : [launch.dir];
  const granted = [...pluginDir, launch.workDir, launch.stateDir, ...launch.permissions.filesystem.read, ...launch.permissions.filesystem.write, ...plan.programPaths];
  const relative = granted.filter((p) => !path.isAbsolute(p));
  if (relative.length > 0) throw new Error(`strict: paths must be absolute: ${relative.join(", ")}`);
  const argv = [plan.bwrap, "--unshare-all"];
  if (plan.network) argv.push("--share-net");
  // The agent may run as root: without --cap-drop ALL the plugin keeps root's capabilities in its namespaces.
  argv.push("--die-with-parent", "--new-session", "--cap-drop", "ALL");
  const bind = (flag: string, paths: readonly string[]) => {
    for (const p of paths) argv.push(flag, p, p);
  };
  bind("--ro-bind-try", SYSTEM_READ_ONLY);
  if (plan.network) bind("--ro-bind-try", NETWORK_READ_ONLY);
  argv.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp");
  bind("--ro-bind", plan.programPaths);
  bind("--ro-bind", pluginDir);
  bind("--ro-bind-try", launch.permissions.filesystem.read);
  bind("--bind-try", launch.permissions.filesystem.write);
  bind("--bind", [launch.workDir, launch.stateDir]);
  argv.push("--chdir", launch.workDir, "--", ...plan.command);
  return argv;
}

/** Where an interpreter outside the system directories is installed (pyenv, asdf, /opt): `<prefix>/bin/<name>`. */
export function interpreterPrefix(interpreter: string): string | null {
  const system = SYSTEM_READ_ONLY.filter((dir) => !dir.startsWith("/etc/"));
  if (system.some((dir) => interpreter === dir || interpreter.startsWith(`${dir}/`))) return null;
  return path.dirname(path.dirname(interpreter));
}

const found = new Map<string, string | null>();

/** bwrap's absolute path (symlinks resolved), looked up once per search path; null when there is none. */
export function findBwrap(searchPath: string): string | null {
  let bwrap = found.get(searchPath);
  if (bwrap === undefined) {
    const onPath = Bun.which("bwrap", { PATH: searchPath });
    bwrap = onPath ? fs.realpathSync(onPath) : null;
    found.set(searchPath, bwrap);
  }
  return bwrap;
}

/** The flags a plugin gets that need kernel support (user, pid, net namespaces), around `true`. */
export function probeArgv(bwrap: string): string[] {
  return [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--", "true"];
}

/** Runs bwrap once: user namespaces may be disabled (sysctl, AppArmor) although bwrap is installed. */
export async function probeBwrap(bwrap: string, timeoutMs: number): Promise<{ ok: true } | { ok: false; reason: string }> {
  const child = Bun.spawn(probeArgv(bwrap), { stdin: "ignore", stdout: "ignore", stderr: "pipe", env: {} });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
    if (code === 0) return { ok: true };
    if (child.signalCode) return { ok: false, reason: `did not finish within ${timeoutMs} ms` };
    return { ok: false, reason: `exited with code ${code}: ${stderr.trim().split("\n").pop() ?? ""}` };
  } finally {
    clearTimeout(timer);
  }
}
