/**
 * The compiled binary, run the way an operator runs it: from an empty directory, with nothing of
 * the repository beside it, so anything it needs at run time must be inside the executable.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { hostTarget } from "../../scripts/build.ts";
import { hostBinary } from "../support/binary.ts";

const REPO = resolve(import.meta.dir, "../..");
/** Generous for a ~20 ms start-up, tight enough that a hang fails this file, not the whole run. */
const DEADLINE_MS = 15_000;
const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

let binary: string;
let cwd: string;

// The first caller in a run compiles the binary (a few seconds; more on a busy CI machine).
beforeAll(async () => {
  binary = await hostBinary();
  cwd = mkdtempSync(join(tmpdir(), "stavily-e2e-"));
}, 180_000);

afterAll(() => {
  if (cwd) rmSync(cwd, { recursive: true, force: true });
});

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

async function stavily(...args: string[]): Promise<Ran> {
  // The agent reads STAVILY_* and ~/.stavily; the test must not see the developer's.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("STAVILY_")));
  const proc = Bun.spawn([binary, ...args], {
    cwd,
    env: { ...env, HOME: cwd, NO_COLOR: "1" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: DEADLINE_MS,
    killSignal: "SIGKILL",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (proc.signalCode) {
    throw new Error(`stavily ${args.join(" ")}: killed by ${proc.signalCode} (deadline ${DEADLINE_MS} ms)\n${stderr}`);
  }
  return { code, stdout, stderr };
}

describe("stavily version", () => {
  test("prints version, commit, build date, bun version and target", async () => {
    const { code, stdout, stderr } = await stavily("version");
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`stavily ${pkg.version}`);
    const field = (name: string) => lines.find((line) => line.startsWith(`${name}:`))?.slice(name.length + 1).trim();
    expect(field("commit")).toMatch(/^([0-9a-f]{12}(-dirty)?|unknown)$/);
    expect(field("built")).toMatch(RFC3339_UTC);
    expect(field("bun")).toBe(Bun.version);
    expect(field("target")).toBe(hostTarget());
  });

  test("--json carries the same facts, from the build rather than from source", async () => {
    const { code, stdout } = await stavily("version", "--json");
    expect(code).toBe(0);
    const info = JSON.parse(stdout) as Record<string, unknown>;
    expect(info).toMatchObject({ version: pkg.version, bunVersion: Bun.version, target: hostTarget() });
    expect(info.commit).toMatch(/^([0-9a-f]{12}(-dirty)?|unknown)$/);
    expect(info.buildDate).not.toBe("unbuilt");
    expect(info.buildDate).toMatch(RFC3339_UTC);
  });
});

describe("stavily config", () => {
  test.each(["sensor.yaml", "action.yaml"])("validate accepts deployments/config/%s", async (name) => {
    const result = await stavily("config", "validate", "-c", join(REPO, "deployments/config", name));
    expect(result).toMatchObject({ code: 0, stderr: "" });
  });

  test("validate reports every mistake with file:line:col and exits 2", async () => {
    const file = join(cwd, "three-mistakes.yaml");
    writeFileSync(
      file,
      ["agent:", "  type: sensor", "  heartbeat: often", "api:", "  timeout: thirty", "logging:", "  level: loud", ""].join("\n"),
    );
    const { code, stdout, stderr } = await stavily("config", "validate", "-c", file);
    expect(code).toBe(2);
    // The path is printed as given or relative to the working directory; the name is what matters.
    const located = `${stdout}\n${stderr}`.split("\n").filter((line) => /three-mistakes\.yaml:\d+:\d+/.test(line));
    const positions = located.map((line) => /three-mistakes\.yaml:(\d+:\d+)/.exec(line)?.[1]);
    expect(positions).toEqual(["3:14", "5:12", "7:10"]);
    expect(located.join("\n")).toContain("agent.heartbeat");
    expect(located.join("\n")).toContain("api.timeout");
    expect(located.join("\n")).toContain("logging.level");
  });

  test("schema prints a JSON Schema", async () => {
    const { code, stdout } = await stavily("config", "schema");
    expect(code).toBe(0);
    const schema = JSON.parse(stdout) as { type?: string; properties?: Record<string, unknown> };
    expect(schema.type).toBe("object");
    expect(Object.keys(schema.properties ?? {})).toContain("agent");
  });
});
