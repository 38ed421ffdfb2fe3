import { describe, expect, test } from "bun:test";
import os from "node:os";
import { StavilyError } from "../../errors.ts";
import { baseEnv, run } from "./_run.ts";

const options = (timeoutMs: number) => ({ cwd: os.tmpdir(), env: baseEnv(os.tmpdir()), timeoutMs, what: "test command" });

describe("helper commands", () => {
  test("output of a command that succeeds", async () => {
    expect((await run(["sh", "-c", "echo out; echo err >&2"], options(10_000))).stdout).toBe("out\n");
  });

  test("a failure carries the exit code and the end of stderr", async () => {
    const error = await run(["sh", "-c", "echo first >&2; echo why >&2; exit 3"], options(10_000)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StavilyError);
    expect((error as StavilyError).message).toBe("test command failed (exit 3): first | why");
  });

  test("the deadline ends the command and what it started (a grandchild holding the pipes)", async () => {
    const started = Date.now();
    const error = await run(["sh", "-c", "sleep 60 & sleep 60"], options(300)).catch((e: unknown) => e);
    expect((error as StavilyError).message).toBe("test command did not finish within 300 ms");
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  test("the agent's environment is not passed on", async () => {
    process.env.STAVILY_TEST_SECRET = "do-not-leak";
    try {
      expect((await run(["sh", "-c", 'echo "[$STAVILY_TEST_SECRET]"'], options(10_000))).stdout).toBe("[]\n");
    } finally {
      delete process.env.STAVILY_TEST_SECRET;
    }
  });
});
