import { describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { StavilyError } from "../errors.ts";
import { agentHomePaths, defaultBaseDir } from "./index.ts";

describe("agentHomePaths", () => {
  test("lays out the home of one agent under its base dir", () => {
    const r = "/srv/stavily/agent-web-01";
    expect(agentHomePaths("/srv/stavily", "web-01")).toEqual({
      root: r,
      config: `${r}/config`,
      plugins: `${r}/config/plugins`,
      certificates: `${r}/config/certificates`,
      data: `${r}/data`,
      dataPlugins: `${r}/data/plugins`,
      cache: `${r}/data/cache`,
      state: `${r}/data/state`,
      logs: `${r}/logs`,
      pluginLogs: `${r}/logs/plugins`,
      auditLogs: `${r}/logs/audit`,
      tmp: `${r}/tmp`,
      workdir: `${r}/tmp/workdir`,
    });
  });

  test("resolves a relative base dir to an absolute path and creates nothing", () => {
    const base = path.join("relative", `stavily-${process.pid}`);
    const home = agentHomePaths(base, "a1");
    expect(home.root).toBe(path.resolve(base, "agent-a1"));
    expect(fs.existsSync(path.resolve(base))).toBe(false);
  });

  test("accepts every character a valid id may hold", () => {
    expect(agentHomePaths("/b", "a.b_c-9").root).toBe("/b/agent-a.b_c-9");
    expect(agentHomePaths("/b", "..").root).toBe("/b/agent-..");
  });

  const escapes = ["../evil", "x/../../evil", "a/b", "x/../../../etc"];
  test.each(escapes)("refuses id %p, which would leave the base dir", (id) => {
    expect(() => agentHomePaths("/srv/stavily", id)).toThrow(StavilyError);
    expect(() => agentHomePaths("/srv/stavily", id)).toThrow("outside /srv/stavily");
  });
});

describe("defaultBaseDir", () => {
  test("is /var/lib/stavily for root", () => {
    expect(defaultBaseDir({ HOME: "/root" }, "linux", 0)).toBe("/var/lib/stavily");
  });

  test("is ~/.stavily for anyone else", () => {
    expect(defaultBaseDir({ HOME: "/home/ops" }, "darwin", 501)).toBe("/home/ops/.stavily");
  });

  test("falls back to the password database when HOME is unset", () => {
    expect(defaultBaseDir({}, "linux", 1000)).toBe(path.join(os.homedir(), ".stavily"));
  });

  test("is %ProgramData%\\Stavily on Windows, whatever the uid", () => {
    expect(defaultBaseDir({ PROGRAMDATA: "D:\\Data" }, "win32", undefined)).toBe("D:\\Data\\Stavily");
    expect(defaultBaseDir({}, "win32", undefined)).toBe("C:\\ProgramData\\Stavily");
  });

  test("reads the real process by default", () => {
    const expected = process.getuid?.() === 0 ? "/var/lib/stavily" : path.join(os.homedir(), ".stavily");
    expect(defaultBaseDir({ HOME: os.homedir() })).toBe(expected);
  });
});
