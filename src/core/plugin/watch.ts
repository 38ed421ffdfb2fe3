/**
 * `plugins.watch_changes`: a plugin whose files change is reloaded without restarting the agent;
 * new uses start the new code and in-flight work on the old one finishes first (host.replace).
 *
 * Changes are found by comparing a fingerprint of each plugin's files every few seconds (against the
 * one the host's instances were started from: PluginHost.changed) rather
 * than with fs.watch, whose recursive mode differs by platform and which misses changes made
 * while the agent was busy. Plugins are small trees; a scan costs a few stat calls.
 */
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import type { Logger } from "../log/index.ts";
import { errorMessage } from "../errors.ts";
import type { PluginHost } from "./host.ts";
import type { CatalogEntry } from "./catalog.ts";

const MAX_FILES = 2_000;

export interface WatchOptions {
  host: PluginHost;
  logger: Logger;
  intervalMs: number;
  signal: AbortSignal;
}

/** Resolves when `signal` aborts. */
export async function watchPlugins({ host, logger, intervalMs, signal }: WatchOptions): Promise<void> {
  while (!signal.aborted) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, intervalMs);
      signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
    });
    if (signal.aborted) break;
    try {
      await host.refresh();
      // Against what the host runs, not against the last scan: an install or rollback the agent did
      // itself has already been applied, and reloading it again would stop instances just started.
      for (const { id, removed } of host.changed()) {
        logger.info("plugin files changed; reloading", { plugin: id, removed });
        await host.replace(id);
      }
    } catch (error) {
      logger.warn("plugin change scan failed", { error: errorMessage(error) });
    }
  }
}

/** A string that changes when a plugin's code or manifest does (built-ins never change). */
export function fingerprint(entry: CatalogEntry): string | undefined {
  if (entry.source === "builtin") return undefined;
  const { manifest, installed } = entry;
  return installed ? `${installed.version}@${installed.installed_at}` : treeStamp(manifest.dir);
}
/** Sizes and modification times of the files under `dir` (node_modules and dot-dirs skipped). */
function treeStamp(dir: string): string {
  const parts: string[] = [];
  const walk = (current: string) => {
    for (const name of readdirSync(current).sort()) {
      if (parts.length > MAX_FILES || name.startsWith(".") || name === "node_modules") continue;
      const file = path.join(current, name);
      const stat = statSync(file, { throwIfNoEntry: false });
      if (!stat) continue;
      if (stat.isDirectory()) walk(file);
      else parts.push(`${path.relative(dir, file)}:${stat.size}:${stat.mtimeMs}`);
    }
  };
  try {
    walk(dir);
  } catch {
    return "unreadable";
  }
  return parts.join("|");
}
