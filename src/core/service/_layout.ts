/**
 * Where an installed agent's files go on each platform, and the names of its service. Pure path
 * arithmetic: every path here is the real one (written into units and configs); `onDisk` maps it
 * under `--root` for packaging and tests.
 */
import path from "node:path";
import type { AgentType } from "../config/index.ts";

export type ServicePlatform = "linux" | "darwin" | "win32";
export const SERVICE_PLATFORMS: readonly ServicePlatform[] = ["linux", "darwin", "win32"];

/** One agent instance: its type and id select everything else. */
export interface InstanceRef {
  type: AgentType;
  id: string;
}

export interface Layout {
  platform: ServicePlatform;
  /** Configs live here as `<type>-<id>.yaml`. */
  configDir: string;
  /** `agent.base_dir` of generated configs; homes are `<baseDir>/agent-<id>`. */
  baseDir: string;
  /** `--binary` when none is given. */
  binary: string;
  /** Linux: /etc/systemd/system; macOS: /Library/LaunchDaemons; Windows: none (the SCM keeps its own registry). */
  unitDir?: string;
  /** `--user` when none is given. */
  user: string;
}

export const DEFAULT_USER = "stavily";

export function layoutFor(platform: ServicePlatform): Layout {
  if (platform === "win32") {
    // What the config loader and defaultBaseDir use on Windows, with %ProgramData% at its usual place.
    return { platform, configDir: "C:\\ProgramData\\Stavily", baseDir: "C:\\ProgramData\\Stavily", binary: "C:\\Program Files\\Stavily\\stavily.exe", user: DEFAULT_USER };
  }
  const unitDir = platform === "linux" ? "/etc/systemd/system" : "/Library/LaunchDaemons";
  // The service runs as its own user, for whom defaultBaseDir would be ~/.stavily: configs name the system one.
  return { platform, configDir: "/etc/stavily", baseDir: "/var/lib/stavily", binary: "/usr/local/bin/stavily", unitDir, user: DEFAULT_USER };
}

export function pathsOf(platform: ServicePlatform): typeof path.posix {
  return platform === "win32" ? path.win32 : path.posix;
}

export function configFileOf(layout: Layout, ref: InstanceRef): string {
  return pathsOf(layout.platform).join(layout.configDir, `${ref.type}-${ref.id}.yaml`);
}

/** Optional environment (e.g. STAVILY_AGENT_TOKEN) the systemd unit reads; never written by install. */
export function envFileOf(layout: Layout, ref: InstanceRef): string {
  return pathsOf(layout.platform).join(layout.configDir, `${ref.type}-${ref.id}.env`);
}

/** systemd template, e.g. `stavily-sensor@.service`. */
export const templateName = (type: AgentType) => `stavily-${type}@.service`;
/** systemd instance, e.g. `stavily-sensor@web-01.service`; `%i` in the template is the id. */
export const unitName = (ref: InstanceRef) => `stavily-${ref.type}@${ref.id}.service`;
/** launchd label and plist name, e.g. `io.stavily.sensor.web-01`. */
export const launchdLabel = (ref: InstanceRef) => `io.stavily.${ref.type}.${ref.id}`;
/** Windows service name, e.g. `stavily-sensor-web-01`. */
export const windowsServiceName = (ref: InstanceRef) => `stavily-${ref.type}-${ref.id}`;

/** The per-instance service files install writes and uninstall removes (the systemd template is shared). */
export function instanceUnitFile(layout: Layout, ref: InstanceRef): string | undefined {
  if (layout.platform === "linux") return path.posix.join(layout.unitDir!, `${unitName(ref)}.d`, INSTANCE_DROP_IN);
  if (layout.platform === "darwin") return path.posix.join(layout.unitDir!, `${launchdLabel(ref)}.plist`);
  return undefined;
}

/** Sorts before `override.conf`, so `systemctl edit` changes win over ours. */
export const INSTANCE_DROP_IN = "10-stavily.conf";

/**
 * `file` as stored under `root` ("/" for the machine itself). A Windows path under a POSIX root
 * (tests with --platform win32) loses its drive and takes forward slashes.
 */
export function onDisk(root: string, file: string): string {
  if (root === "/" || root === "") return file;
  const relative = file.replace(/^[A-Za-z]:/, "").replaceAll("\\", "/");
  return path.join(root, relative);
}
