/**
 * How this program re-executes itself as a plugin host. The compiled binary runs `<binary> plugin-host`
 * (the hidden command in src/cli.ts). From source it runs `<bun> host-entry.ts`: the same handler
 * without the CLI around it, so the source tree does not depend on the command wiring.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

declare const STAVILY_BUILD_TARGET: string | undefined;

export interface SelfCommand {
  /** The argv that starts the plugin host (never given config or secrets: those go over stdin). */
  argv: string[];
  /** What the host needs to see inside a strict sandbox, read-only: the binary, or bun and the source tree. */
  readPaths: string[];
}

export function selfCommand(): SelfCommand {
  const exe = fs.realpathSync(process.execPath);
  // Defined by scripts/build.ts for the compiled binary only.
  if (typeof STAVILY_BUILD_TARGET === "string") return { argv: [exe, "plugin-host"], readPaths: [exe] };
  const entry = fileURLToPath(new URL("./host-entry.ts", import.meta.url));
  return { argv: [exe, entry], readPaths: [exe, projectRoot(entry)] };
}

/** The checkout (package.json, node_modules, src/) the source entry runs from. */
function projectRoot(from: string): string {
  for (let dir = path.dirname(from); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "package.json")) && fs.existsSync(path.join(dir, "node_modules"))) return dir;
  }
  return path.dirname(from);
}
