import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgent, writeHolderScript } from "../../src/core/home/_testkit.ts";
import { runCli } from "../support/cli.ts";

const base = mkdtempSync(join(tmpdir(), "stavily-homes-"));
const holderScript = writeHolderScript(base);
afterAll(() => rmSync(base, { recursive: true, force: true }));

const homeInit = (id: string, type = "sensor") => runCli(["home", "init", "--type", type, "--set", `agent.base_dir=${base}`, "--set", `agent.id=${id}`]);

describe("stavily home init", () => {
  test("creates the layout with private modes for state and secrets", async () => {
    const { code, stdout } = await homeInit("web-01");
    expect(code).toBe(0);
    const root = join(base, "agent-web-01");
    expect(stdout).toBe(`ok: home of sensor agent "web-01" is ready at ${root}\n`);
    for (const dir of ["config/plugins", "config/certificates", "data/plugins", "data/cache", "data/state", "logs/plugins", "logs/audit", "tmp/workdir"]) {
      expect(existsSync(join(root, dir))).toBe(true);
    }
    if (process.platform !== "win32") {
      expect(statSync(join(root, "data", "state")).mode & 0o777).toBe(0o700);
      expect(statSync(join(root, "config", "certificates")).mode & 0o777).toBe(0o700);
      expect(statSync(join(root, "logs")).mode & 0o777).toBe(0o750);
    }
  });

  test("two agents with different ids get homes of their own, side by side", async () => {
    const sensor = startAgent(holderScript, base, "sensor-a", "hold");
    expect((await sensor.next()).event).toBe("locked");
    try {
      const { code } = await homeInit("action-b", "action");
      expect(code).toBe(0);
      expect(existsSync(join(base, "agent-sensor-a", "agent.lock"))).toBe(true);
      expect(existsSync(join(base, "agent-action-b", "data", "state"))).toBe(true);
    } finally {
      sensor.proc.kill(9);
      await sensor.proc.exited;
    }
  });

  test("the same id is refused while its agent runs, and taken over once it is killed", async () => {
    const running = startAgent(holderScript, base, "busy", "hold");
    const locked = await running.next();
    expect(locked.event).toBe("locked");

    const refused = await homeInit("busy");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`stavily: agent busy is already running (pid ${running.pid}, started `);
    expect(refused.stderr).toContain(`with home ${join(base, "agent-busy")}`);

    running.proc.kill(9);
    await running.proc.exited;
    const after = await homeInit("busy");
    expect(after.code).toBe(0);
    expect(after.stderr).toContain(`note: took over a stale lock left by pid ${running.pid}`);
  });

  test("an id that is not valid is a config error", async () => {
    const { code, stderr } = await homeInit("../escape");
    expect(code).toBe(2);
    expect(stderr).toContain("--set agent.id=../escape agent.id: expected an agent id of 1-63 characters");
  });
});
