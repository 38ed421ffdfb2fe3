import { describe, expect, test } from "bun:test";
import { StavilyError } from "../../errors.ts";
import { checkSandboxLevel } from "./_check.ts";
import { bwrapAvailable, tempHome } from "./_testkit.ts";

async function refusal(promise: Promise<unknown>): Promise<StavilyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StavilyError);
  const refused = error as StavilyError;
  expect(refused.component).toBe("sandbox");
  expect(refused.exitCode).toBe(2);
  return refused;
}

describe("checkSandboxLevel", () => {
  test("worker and process are available here", async () => {
    await checkSandboxLevel("worker");
    await checkSandboxLevel("process");
  });

  test("worker and process are available on macOS and Windows", async () => {
    for (const platform of ["darwin", "win32"] as const) {
      await checkSandboxLevel("worker", platform);
      await checkSandboxLevel("process", platform);
    }
  });

  test("strict is refused off Linux, naming the platform", async () => {
    const error = await refusal(checkSandboxLevel("strict", "darwin"));
    expect(error.message).toBe("security.sandbox.level strict needs Linux with bubblewrap; this is darwin");
    expect((await refusal(checkSandboxLevel("strict", "win32"))).message).toContain("this is win32");
  });

  test("strict is refused when bwrap is not installed (a search path without it)", async () => {
    const error = await refusal(checkSandboxLevel("strict", "linux", { searchPath: tempHome() }));
    expect(error.message).toBe("security.sandbox.level strict needs bubblewrap (bwrap), which is not installed");
    expect(error.details[0]).toContain("apt-get install bubblewrap");
  });

  test("strict is accepted where bwrap can create a sandbox", async () => {
    if (!bwrapAvailable()) return;
    await checkSandboxLevel("strict", "linux");
  });
});
