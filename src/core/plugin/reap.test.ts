/**
 * The reaper with real processes: `sleep 300` orphaned the way a killed agent's children are (their
 * parent gone, a process group of their own), marked with a temporary home.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { reapLeftovers } from "./reap.ts";
import { AGENT_HOME_ENV } from "./types.ts";
import { recordingLogger } from "./worker/_test-support.ts";

const dir = mkdtempSync(join(tmpdir(), "stavily-reap-"));
const started: number[] = [];
const linux = process.platform === "linux";

afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone, as it should be
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A `sleep 300` whose parent (a shell leading a new process group) has exited, as after a kill -9 of
 * the agent: it is no descendant of the test. `ignoreTerm` makes it ignore SIGTERM.
 */
async function orphan(home: string, ignoreTerm = false): Promise<number> {
  const script = `${ignoreTerm ? "trap '' TERM; " : ""}sleep 300 >/dev/null 2>&1 & echo $!`;
  const shell = Bun.spawn(["sh", "-c", script], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", [AGENT_HOME_ENV]: home }, stdout: "pipe", detached: true });
  const pid = Number((await new Response(shell.stdout).text()).trim());
  await shell.exited;
  started.push(pid);
  expect(alive(pid)).toBe(true);
  return pid;
}

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

describe.skipIf(!linux)("reapLeftovers", () => {
  test("kills the group of a process marked with this home, and leaves one marked with another home alone", async () => {
    const home = join(dir, "agent-a");
    const mine = await orphan(home);
    const other = await orphan(join(dir, "agent-b"));
    const logger = recordingLogger();

    const reaped = await reapLeftovers(home, logger);

    expect(alive(mine)).toBe(false);
    expect(alive(other)).toBe(true);
    expect(reaped).toHaveLength(1);
    expect(reaped[0]).toMatchObject({ pid: mine, signal: "SIGTERM" });
    expect(reaped[0]!.command).toBe("sleep 300");
    expect(logger.lines).toEqual([
      { level: "warn", msg: "killed a plugin process left by an earlier run", fields: { pid: mine, pgid: reaped[0]!.pgid, command: "sleep 300", signal: "SIGTERM" }, component: undefined },
    ]);
  });

  test("a group that ignores SIGTERM gets SIGKILL once the grace is over", async () => {
    const home = join(dir, "agent-c");
    const stubborn = await orphan(home, true);
    const begun = Date.now();

    const reaped = await reapLeftovers(home, recordingLogger(), { graceMs: 300 });

    expect(alive(stubborn)).toBe(false);
    expect(reaped.map((group) => group.signal)).toEqual(["SIGKILL"]);
    expect(Date.now() - begun).toBeGreaterThanOrEqual(300);
  });

  test("its own children are not leftovers, whatever they carry", async () => {
    const home = join(dir, "agent-d");
    const child = Bun.spawn(["sleep", "300"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", [AGENT_HOME_ENV]: home }, detached: true });
    started.push(child.pid);

    const reaped = await reapLeftovers(home, recordingLogger());

    expect(reaped).toEqual([]);
    expect(alive(child.pid)).toBe(true);
    child.kill("SIGKILL");
  });

  test("nothing marked: nothing done, at once", async () => {
    const begun = Date.now();
    expect(await reapLeftovers(join(dir, "agent-none"), recordingLogger())).toEqual([]);
    expect(Date.now() - begun).toBeLessThan(1_000);
  });
});
