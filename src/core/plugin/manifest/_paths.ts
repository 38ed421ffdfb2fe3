import path from "node:path";

/** `child` is `parent` itself or below it, by name (symlinks are not followed). */
export function within(child: string, parent: string): boolean {
  const relative = path.relative(parent, child);
  return relative === "" || (relative !== ".." && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
}
