/**
 * Facts about this build. scripts/build.ts injects them with `--define`; running from source they
 * fall back to package.json and git so `bun src/cli.ts version` still tells the truth.
 */
import pkg from "../../package.json" with { type: "json" };

declare const STAVILY_BUILD_VERSION: string | undefined;
declare const STAVILY_BUILD_COMMIT: string | undefined;
declare const STAVILY_BUILD_DATE: string | undefined;
declare const STAVILY_BUILD_TARGET: string | undefined;

export interface BuildInfo {
  version: string;
  commit: string;
  buildDate: string;
  bunVersion: string;
  /** `<os>-<arch>` the binary was compiled for, or `source` when run by `bun src/cli.ts`. */
  target: string;
  os: string;
  arch: string;
}

export function buildInfo(): BuildInfo {
  return {
    version: typeof STAVILY_BUILD_VERSION === "string" ? STAVILY_BUILD_VERSION : pkg.version,
    commit: typeof STAVILY_BUILD_COMMIT === "string" ? STAVILY_BUILD_COMMIT : sourceCommit(),
    buildDate: typeof STAVILY_BUILD_DATE === "string" ? STAVILY_BUILD_DATE : "unbuilt",
    bunVersion: Bun.version,
    target: typeof STAVILY_BUILD_TARGET === "string" ? STAVILY_BUILD_TARGET : "source",
    os: process.platform,
    arch: process.arch,
  };
}

function sourceCommit(): string {
  try {
    const result = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], {
      cwd: import.meta.dir,
      stderr: "ignore",
    });
    const commit = result.stdout.toString().trim();
    return result.success && commit ? `${commit}-source` : "unknown";
  } catch {
    return "unknown";
  }
}
