/**
 * The README's first command, as a user runs it: `npm run demo` from the checkout (Bun from
 * node_modules, the CLI from source). Within 15 s an event has become an executed instruction, and
 * Ctrl-C — SIGINT to the whole foreground process group, as a terminal sends it — ends it cleanly.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanEnv, repoRoot } from "../support/cli.ts";

const tmp = mkdtempSync(join(tmpdir(), "stavily-demo-e2e-"));
let group = 0;
afterAll(() => {
  if (group) {
    try {
      process.kill(-group, "SIGKILL");
    } catch {
      // already gone
    }
  }
  rmSync(tmp, { recursive: true, force: true });
});

test("npm run demo: an event becomes an executed instruction within 15 s; Ctrl-C stops it cleanly and removes the temp state", async () => {
  const started = Date.now();
  const demo = Bun.spawn(["npm", "run", "--silent", "demo"], {
    cwd: repoRoot,
    env: cleanEnv({ TMPDIR: tmp }),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
  });
  group = demo.pid;
  let output = "";
  let completedAt = 0;
  const pumped = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of demo.stdout) {
      output += decoder.decode(chunk, { stream: true });
      if (!completedAt && /instruction +ins_\S+ completed: "hello, /.test(output)) completedAt = Date.now();
    }
  })();
  const completed = (async () => {
    for (const deadline = started + 15_000; Date.now() < deadline; await Bun.sleep(50)) if (completedAt) return completedAt - started;
    throw new Error(`no completed instruction within 15 s:\n${output}\n${await new Response(demo.stderr).text()}`);
  })();
  const elapsed = await completed;
  expect(elapsed).toBeLessThan(15_000);
  expect(output).toMatch(/event +file\.created \S+hello-1\.txt/);
  const state = /logs +(\/\S+)\/logs/.exec(output)?.[1];
  expect(state && existsSync(state)).toBe(true);

  process.kill(-demo.pid, "SIGINT");
  const code = await demo.exited;
  group = 0;
  await pumped;
  // npm reports an interrupted script as 130 whatever the script did; the demo's own clean stop is
  // its last line, after the agents, the orchestrator and the temp state are gone.
  expect({ npmExit: [0, 130].includes(code), tail: output.trimEnd().split("\n").slice(-2) }).toEqual({ npmExit: true, tail: ["stopping…", "stopped"] });
  expect(existsSync(state!)).toBe(false);
}, 60_000);
