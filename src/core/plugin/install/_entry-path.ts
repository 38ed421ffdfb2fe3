/**
 * The one place that turns a name from an archive, a checkout or an instruction into a path below a directory.
 */
import path from "node:path";

/**
 * `name` as path segments, or null for the root itself ("", "./"). Throws a plain Error with the reason; the
 * caller words the refusal. Refuses absolute paths (also Windows drive and UNC forms), `..` segments,
 * backslashes (a `..\` would be traversal on Windows) and NUL bytes.
 */
export function relativeSegments(name: string): string[] | null {
  if (name.includes("\0")) throw new Error("refused: the name contains a NUL byte");
  if (name.includes("\\")) throw new Error("refused: the name contains a backslash");
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name)) throw new Error("refused: absolute path");
  const segments = name.split("/").filter((segment) => segment !== "" && segment !== ".");
  if (segments.includes("..")) throw new Error('refused: path traversal ("..")');
  return segments.length === 0 ? null : segments;
}

/** `segments` joined below `root`, checked once more after normalisation. */
export function below(root: string, segments: readonly string[]): string {
  const target = path.resolve(root, ...segments);
  if (!target.startsWith(root + path.sep)) throw new Error("refused: resolves outside the destination");
  return target;
}

/**
 * npm's command shims (`node_modules/.bin/*`, at any depth) are links by design and never read by the bundler;
 * they are skipped rather than refused so that a plugin packed with its node_modules installs.
 */
export function isNpmShim(segments: readonly string[]): boolean {
  const n = segments.length;
  return n >= 3 && segments[n - 2] === ".bin" && segments[n - 3] === "node_modules";
}
