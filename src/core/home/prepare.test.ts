import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { EXIT, StavilyError } from "../errors.ts";
import { type AgentHome, prepareAgentHome } from "./index.ts";

/** The modes the issue asks for: private where secrets or state live, shared otherwise. */
const EXPECTED: Record<keyof AgentHome, number> = {
  root: 0o700,
  config: 0o700,
  plugins: 0o750,
  certificates: 0o700,
  data: 0o700,
  dataPlugins: 0o750,
  cache: 0o750,
  state: 0o700,
  logs: 0o750,
  pluginLogs: 0o750,
  auditLogs: 0o750,
  tmp: 0o750,
  workdir: 0o750,
};

const modeOf = (dir: string) => fs.statSync(dir).mode & 0o777;
const modesOf = (home: AgentHome) =>
  Object.fromEntries(Object.keys(EXPECTED).map((key) => [key, modeOf(home[key as keyof AgentHome])]));

function failure(action: () => unknown): StavilyError {
  try {
    action();
  } catch (error) {
    if (error instanceof StavilyError) return error;
    throw error;
  }
  throw new Error("expected a StavilyError");
}

let base: string;
let umask: number;

beforeEach(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), "stavily-home-"));
  umask = process.umask();
});

afterEach(() => {
  process.umask(umask);
  fs.rmSync(base, { recursive: true, force: true });
});

describe("prepareAgentHome", () => {
  test.each([
    ["077", 0o077],
    ["000", 0o000],
    ["022", 0o022],
  ])("creates every directory with its mode under umask %s", (_, mask) => {
    process.umask(mask);
    const home = prepareAgentHome(base, "a1");
    expect(home.root).toBe(path.join(base, "agent-a1"));
    expect(modesOf(home)).toEqual(EXPECTED);
  });

  test("creates a missing base dir and its parents", () => {
    const home = prepareAgentHome(path.join(base, "x", "y"), "a1");
    expect(fs.statSync(home.workdir).isDirectory()).toBe(true);
  });

  test("is idempotent and keeps what the agent wrote", () => {
    const home = prepareAgentHome(base, "a1");
    fs.writeFileSync(path.join(home.state, "cursor"), "42");
    expect(prepareAgentHome(base, "a1")).toEqual(home);
    expect(fs.readFileSync(path.join(home.state, "cursor"), "utf8")).toBe("42");
    expect(modesOf(home)).toEqual(EXPECTED);
  });

  test("tightens directories loosened by hand", () => {
    const home = prepareAgentHome(base, "a1");
    for (const dir of [home.root, home.config, home.certificates, home.state, home.logs]) fs.chmodSync(dir, 0o777);
    fs.chmodSync(home.data, 0o755);
    prepareAgentHome(base, "a1");
    expect(modesOf(home)).toEqual(EXPECTED);
  });

  test("keeps a stricter mode an operator chose", () => {
    const home = prepareAgentHome(base, "a1");
    fs.chmodSync(home.logs, 0o700);
    prepareAgentHome(base, "a1");
    expect(modeOf(home.logs)).toBe(0o700);
  });

  test("fails naming the path when a file stands where the home should be", () => {
    const root = path.join(base, "agent-a1");
    fs.writeFileSync(root, "");
    const error = failure(() => prepareAgentHome(base, "a1"));
    expect(error).toMatchObject({ component: "home", exitCode: EXIT.failure });
    expect(error.message).toBe(`cannot use ${root} as an agent home directory: it exists and is not a directory`);
  });

  test("fails naming the path when a file stands where a subdirectory should be", () => {
    const home = prepareAgentHome(base, "a1");
    fs.rmSync(home.logs, { recursive: true });
    fs.writeFileSync(home.logs, "");
    expect(() => prepareAgentHome(base, "a1")).toThrow(`cannot use ${home.logs} as an agent home directory`);
  });

  test("fails with the OS reason when the base dir is a file", () => {
    const file = path.join(base, "not-a-dir");
    fs.writeFileSync(file, "");
    const error = failure(() => prepareAgentHome(path.join(file, "stavily"), "a1"));
    expect(error.component).toBe("home");
    expect(error.message).toContain(`cannot prepare agent home directory ${path.join(file, "stavily")}: ENOTDIR`);
    expect(error.cause).toMatchObject({ code: "ENOTDIR" });
  });
});
