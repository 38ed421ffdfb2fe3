import { expect, test } from "bun:test";
import { dirname, relative } from "node:path";
import { entrypoints } from "../../../../scripts/build.ts";
import { EMBEDDED_WORKER_ENTRY } from "./_entry-url.ts";

/**
 * In the binary an entrypoint lives at its path relative to the entrypoints' common root. Running a
 * plugin in the compiled binary needs a CLI command (see the report of this module), so this checks
 * the one thing that can drift: the build list and the path the host asks for.
 */
test("the worker entry is a build entrypoint, at the path the host uses inside the binary", () => {
  const worker = "src/core/plugin/worker/entry.ts";
  expect(entrypoints).toContain(worker);
  const root = commonDir(entrypoints.map((entry) => dirname(entry)));
  expect(`./${relative(root, worker)}`).toBe(EMBEDDED_WORKER_ENTRY);
});

function commonDir(dirs: string[]): string {
  const parts = dirs.map((dir) => dir.split("/"));
  const first = parts[0] ?? [];
  let n = 0;
  while (n < first.length && parts.every((p) => p[n] === first[n])) n++;
  return first.slice(0, n).join("/");
}
