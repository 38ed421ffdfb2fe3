/**
 * `stavily service uninstall`: removes the instance's service files (and the shared template once
 * no instance of its type is left). The config and the home stay unless --purge: they hold the
 * agent's identity, spool and audit log.
 */
import { existsSync, readdirSync, rmdirSync, rmSync } from "node:fs";
import path from "node:path";
import { errorMessage, StavilyError, usageError } from "../errors.ts";
import { agentHomePaths } from "../home/index.ts";
import { findInstalled, inspectInstance } from "./_inventory.ts";
import { envFileOf, type InstanceRef, launchdLabel, layoutFor, onDisk, type ServicePlatform, templateName, unitName } from "./_layout.ts";
import { managerState } from "./_manager.ts";
import { scDeleteCommands } from "./_windows.ts";

export interface UninstallOptions {
  ref: InstanceRef;
  platform: ServicePlatform;
  root: string;
  /** Remove the config, its .env file and the agent home too. */
  purge?: boolean;
  /** Remove the files even though the service manager says the agent runs. */
  force?: boolean;
}

export interface UninstallResult {
  /** Real paths. */
  removed: string[];
  kept: string[];
  next: string[];
}

export function uninstall(options: UninstallOptions): UninstallResult {
  const { ref, platform, root } = options;
  const layout = layoutFor(platform);
  const item = inspectInstance(layout, root, ref);
  if (!item.hasConfig && !item.hasUnit) throw usageError("service", `${ref.type} agent "${ref.id}" is not installed (no ${item.configFile}${item.unitFile ? ` or ${item.unitFile}` : ""})`);
  // Only the machine's own manager knows; a --root tree is not running anything.
  if (root === "/" && !options.force) {
    const state = managerState(ref, platform);
    if (state.available && state.running) {
      const stop = platform === "linux" ? `systemctl disable --now ${unitName(ref)}` : platform === "darwin" ? `launchctl bootout system/${launchdLabel(ref)}` : scDeleteCommands(ref)[0];
      throw usageError("service", `${ref.type} agent "${ref.id}" is running; stop it first: ${stop} (or pass --force)`);
    }
  }

  const result: UninstallResult = { removed: [], kept: [], next: [] };
  const remove = (file: string, recursive = false) => {
    const target = onDisk(root, file);
    if (!existsSync(target)) return;
    attempt(target, () => rmSync(target, { recursive, force: true }));
    result.removed.push(file);
  };
  if (item.unitFile) remove(item.unitFile);
  if (platform === "linux" && item.unitFile) {
    // `systemctl edit` overrides beside ours are the operator's: the directory goes only when empty, or with --purge.
    const dropIns = path.dirname(item.unitFile);
    if (options.purge) remove(dropIns, true);
    else if (existsSync(onDisk(root, dropIns))) {
      if (readdirSync(onDisk(root, dropIns)).length === 0) attempt(dropIns, () => rmdirSync(onDisk(root, dropIns)));
      else result.kept.push(dropIns);
    }
    const left = findInstalled(layout, root).filter((other) => other.ref.type === ref.type && other.hasUnit);
    if (left.length === 0) remove(path.posix.join(layout.unitDir!, templateName(ref.type)));
  }
  if (options.purge) {
    const home = item.home ?? agentHomePaths(layout.baseDir, ref.id).root;
    remove(item.configFile);
    remove(envFileOf(layout, ref));
    remove(home, true);
  } else {
    if (item.hasConfig) result.kept.push(item.configFile);
    if (item.home && existsSync(onDisk(root, item.home))) result.kept.push(item.home);
  }
  if (platform === "linux") result.next.push("systemctl daemon-reload");
  // A daemon that exited on its own stays loaded without its plist until booted out.
  if (platform === "darwin") result.next.push(`launchctl bootout system/${launchdLabel(ref)}`);
  if (platform === "win32") result.next.push(...scDeleteCommands(ref));
  return result;
}

function attempt(target: string, action: () => void): void {
  try {
    action();
  } catch (error) {
    throw new StavilyError("service", `cannot remove ${target}: ${errorMessage(error)}`, { cause: error });
  }
}
