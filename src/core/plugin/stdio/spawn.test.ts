import { afterAll, describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { makeLaunch, removeTempDirs } from "./_testkit.ts";

afterAll(removeTempDirs);
import { buildArgv, buildChildEnv, findPrlimit, resolveInterpreter } from "./_spawn.ts";

describe("child environment", () => {
  test("only PATH, HOME, LANG, LC_ALL pass; the launch env is added; STAVILY_ is the host's", () => {
    const launch = makeLaunch({ env: { EXTRA: "1", stavily_agent_token: "x", PATH: "/plugin/bin" } });
    const { env, ignored } = buildChildEnv(launch, { PATH: "/usr/bin", HOME: "/h", LC_ALL: "C", SSH_AUTH_SOCK: "/s", STAVILY_AGENT_TOKEN: "t", STAVILY_API_KEY: "k" });
    expect(ignored).toEqual(["stavily_agent_token"]);
    expect(env).toEqual({
      PATH: "/plugin/bin",
      HOME: "/h",
      LC_ALL: "C",
      EXTRA: "1",
      STAVILY_PLUGIN_ID: "demo",
      STAVILY_PLUGIN_INSTANCE: "demo-1",
      STAVILY_PLUGIN_KIND: "trigger",
      STAVILY_PLUGIN_DIR: launch.dir,
      STAVILY_AGENT_ID: "agent-7",
      STAVILY_AGENT_TYPE: "sensor",
      STAVILY_AGENT_NAME: "test agent",
      STAVILY_ENVIRONMENT: "test",
      STAVILY_WORK_DIR: launch.workDir,
      STAVILY_STATE_DIR: launch.stateDir,
      STAVILY_LOG_FILE: launch.logFile,
    });
  });

  test("the agent's home marks the child, and neither env nor a secret can change it", () => {
    const launch = { ...makeLaunch({ env: { STAVILY_AGENT_HOME: "/elsewhere" } }), agentHome: "/var/lib/stavily/agent-7", secrets: { STAVILY_AGENT_HOME: "/x" } };
    const { env, ignored } = buildChildEnv(launch, { PATH: "/usr/bin", STAVILY_AGENT_HOME: "/parent" });
    expect(ignored).toEqual(["STAVILY_AGENT_HOME"]);
    expect(env.STAVILY_AGENT_HOME).toBe("/var/lib/stavily/agent-7");
  });
});

describe("command line", () => {
  test("python runs unbuffered (the plugins print() answers without flushing)", () => {
    const launch = makeLaunch();
    expect(buildArgv(launch, "/usr/bin/python3", null)).toEqual(["/usr/bin/python3", "-u", launch.entry]);
    expect(buildArgv({ ...launch, runtime: "executable" }, null, null)).toEqual([launch.entry]);
  });

  test("a memory limit wraps the command in prlimit --data", () => {
    const launch = makeLaunch({ runtime: "bash", limits: { memory: 64 * 1024 * 1024, cpu: 0, execution_time: 0 } });
    expect(buildArgv(launch, "/bin/bash", "/usr/bin/prlimit")).toEqual(["/usr/bin/prlimit", "--data=67108864", "--", "/bin/bash", launch.entry]);
  });

  test("a caller's command: main replaces interpreter and entry, wrap goes inside prlimit, dataLimit replaces limits.memory", () => {
    const launch = makeLaunch({ runtime: "bun", limits: { memory: 64 * 1024 * 1024, cpu: 0, execution_time: 0 } });
    const command = { main: ["/opt/stavily", "plugin-host"], wrap: (main: string[]) => ["/usr/bin/bwrap", "--", ...main], dataLimit: 1000 };
    expect(buildArgv(launch, null, "/usr/bin/prlimit", command)).toEqual(["/usr/bin/prlimit", "--data=1000", "--", "/usr/bin/bwrap", "--", "/opt/stavily", "plugin-host"]);
    expect(buildArgv(launch, null, "/usr/bin/prlimit", { main: ["/opt/stavily"], dataLimit: 0 })).toEqual(["/opt/stavily"]);
  });

  test.if(process.platform === "linux")("prlimit is found on Linux, by absolute path", () => {
    expect(path.isAbsolute(findPrlimit() ?? "")).toBe(true);
  });
});

describe("interpreters", () => {
  test("resolve once to the real binary, past version-manager shims", async () => {
    const PATH = process.env.PATH ?? "";
    const first = resolveInterpreter("python", PATH, 10_000);
    expect(resolveInterpreter("python", PATH, 10_000)).toBe(first);
    const python = await first;
    expect(path.isAbsolute(python)).toBe(true);
    expect(python).not.toContain("/shims/");
    // A binary, not a shell script.
    expect(fs.readFileSync(python).subarray(0, 2).toString("latin1")).not.toBe("#!");
    expect(path.isAbsolute(await resolveInterpreter("bash", PATH, 10_000))).toBe(true);
  });

  test("a runtime missing from PATH fails, and is looked up again next time", async () => {
    const empty = "/nonexistent-dir";
    await expect(resolveInterpreter("node", empty, 1000)).rejects.toThrow("node not found on PATH");
    await expect(resolveInterpreter("node", empty, 1000)).rejects.toThrow("node not found on PATH");
  });
});
