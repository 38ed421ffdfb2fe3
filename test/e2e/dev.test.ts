/** `stavily dev` with the compiled binary: the whole loop runs, and Ctrl-C stops it and cleans up. */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostBinary } from "../support/binary.ts";
import { killAll, startProcess } from "../support/process.ts";

const cwd = mkdtempSync(join(tmpdir(), "stavily-dev-e2e-"));
afterAll(async () => {
  await killAll();
  rmSync(cwd, { recursive: true, force: true });
});

test("file written → event → rule → instruction → echo result; Ctrl-C stops everything and removes the temp state", async () => {
  const dev = startProcess([await hostBinary(), "dev", "--every", "1s"], { cwd });
  const dir = (await dev.waitFor(/logs +(\/\S+)\/logs/))[1]!;
  await dev.waitFor(/agent online +dev-sensor/);
  const written = (await dev.waitFor(/wrote +(\S+hello-1\.txt)/, 30_000))[1]!;
  await dev.waitFor(new RegExp(`event +file\\.created ${written.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`), 30_000);
  await dev.waitFor(/instruction +ins_\S+ completed: "hello, \S+hello-\d+\.txt"/, 30_000);
  expect(existsSync(dir)).toBe(true);

  dev.kill("SIGINT");
  expect(await dev.exited).toBe(0);
  expect(dev.output()).toContain("stopping…");
  expect(existsSync(dir)).toBe(false);
}, 90_000);
