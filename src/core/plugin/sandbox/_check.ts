/**
 * Start-up check: a level the machine cannot provide is refused with a clear error, never weakened.
 * Called once when an agent starts, before any plugin runs.
 */
import { StavilyError, EXIT } from "../../errors.ts";
import { findPrlimit } from "../stdio/index.ts";
import { findBwrap, probeBwrap } from "./_bwrap.ts";
import { SYSTEM_PATH, type SandboxLevel } from "./_options.ts";

export interface CheckOptions {
  /** Where bwrap is looked for; the agent's PATH plus the system directories by default. */
  searchPath?: string;
  /** Deadline of the bwrap probe. */
  probeTimeoutMs?: number;
}

const refuse = (message: string, details: string[] = []) => new StavilyError("sandbox", message, { exitCode: EXIT.usage, details });

export async function checkSandboxLevel(level: SandboxLevel, platform: NodeJS.Platform = process.platform, options: CheckOptions = {}): Promise<void> {
  if (level === "worker") return;
  // The memory limit of levels process and strict is prlimit's on Linux; without it every start would fail.
  if (platform === "linux" && !findPrlimit()) {
    throw refuse(`security.sandbox.level ${level} needs prlimit (util-linux) on Linux to apply limits.memory, and it is not installed`);
  }
  if (level === "process") return;
  if (platform !== "linux") {
    throw refuse(`security.sandbox.level strict needs Linux with bubblewrap; this is ${platform}`, [
      "use level process (its own process, scrubbed environment) or worker",
    ]);
  }
  const searchPath = options.searchPath ?? `${process.env.PATH ?? ""}:${SYSTEM_PATH}`;
  const bwrap = findBwrap(searchPath);
  if (!bwrap) {
    throw refuse("security.sandbox.level strict needs bubblewrap (bwrap), which is not installed", [
      "install it (Debian/Ubuntu: apt-get install bubblewrap; Fedora/RHEL: dnf install bubblewrap), or choose level process",
    ]);
  }
  const probe = await probeBwrap(bwrap, options.probeTimeoutMs ?? 10_000);
  if (!probe.ok) {
    throw refuse(`security.sandbox.level strict: ${bwrap} cannot create a sandbox here (${probe.reason})`, [
      "unprivileged user namespaces may be disabled: sysctl kernel.unprivileged_userns_clone=1, or on Ubuntu 24.04+ an AppArmor profile for bwrap",
    ]);
  }
}
