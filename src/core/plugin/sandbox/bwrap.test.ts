import { describe, expect, test } from "bun:test";
import { buildBwrapArgv, interpreterPrefix, NETWORK_READ_ONLY, probeArgv, SYSTEM_READ_ONLY } from "./_bwrap.ts";
import { launchOf } from "./_testkit.ts";

const pairs = (flag: string, paths: readonly string[]) => paths.flatMap((p) => [flag, p, p]);

describe("bwrap command line", () => {
  const launch = launchOf("probe.ts", "action", {
    dir: "/opt/plugins/probe",
    workDir: "/var/lib/stavily/work/probe",
    stateDir: "/var/lib/stavily/state/probe",
    permissions: { network: false, filesystem: { read: ["/var/log/nginx"], write: ["/var/spool/out"] }, exec: [], system_calls: [], capabilities: [] },
  });
  const plan = { bwrap: "/usr/bin/bwrap", launch, network: false, programPaths: ["/usr/local/bin/stavily"], command: ["/usr/local/bin/stavily", "plugin-host"] };

  test("the exact argv: namespaces, a read-only system, the plugin's dirs and grants, in that order", () => {
    expect(buildBwrapArgv(plan)).toEqual([
      "/usr/bin/bwrap",
      "--unshare-all",
      "--die-with-parent",
      "--new-session",
      "--cap-drop",
      "ALL",
      ...pairs("--ro-bind-try", SYSTEM_READ_ONLY),
      "--proc", "/proc",
      "--dev", "/dev",
      "--tmpfs", "/tmp",
      "--ro-bind", "/usr/local/bin/stavily", "/usr/local/bin/stavily",
      "--ro-bind", "/opt/plugins/probe", "/opt/plugins/probe",
      "--ro-bind-try", "/var/log/nginx", "/var/log/nginx",
      "--bind-try", "/var/spool/out", "/var/spool/out",
      "--bind", "/var/lib/stavily/work/probe", "/var/lib/stavily/work/probe",
      "--bind", "/var/lib/stavily/state/probe", "/var/lib/stavily/state/probe",
      "--chdir", "/var/lib/stavily/work/probe",
      "--",
      "/usr/local/bin/stavily",
      "plugin-host",
    ]);
  });

  test("the network: shared, with resolver and CA files, only when granted", () => {
    const argv = buildBwrapArgv({ ...plan, network: true });
    expect(argv.slice(0, 3)).toEqual(["/usr/bin/bwrap", "--unshare-all", "--share-net"]);
    const system = argv.indexOf(SYSTEM_READ_ONLY[SYSTEM_READ_ONLY.length - 1]!) + 2;
    expect(argv.slice(system, system + NETWORK_READ_ONLY.length * 3)).toEqual(pairs("--ro-bind-try", NETWORK_READ_ONLY));
    const closed = buildBwrapArgv(plan);
    expect(closed).not.toContain("--share-net");
    expect(closed).not.toContain("/etc/resolv.conf");
  });

  test("no --clearenv/--setenv: values in bwrap's argv would be readable by every user in /proc", () => {
    const argv = buildBwrapArgv(plan);
    expect(argv).not.toContain("--setenv");
    expect(argv).not.toContain("--clearenv");
  });

  test("a built-in has no dir to bind: its code is in the binary", () => {
    const builtin = { ...launch, dir: "builtin:echo", entry: "builtin:echo" };
    const argv = buildBwrapArgv({ ...plan, launch: builtin });
    expect(argv.join(" ")).not.toContain("builtin:");
    expect(argv.length).toBe(buildBwrapArgv(plan).length - 3);
  });

  test("a relative path is refused, not bound relative to wherever the agent runs", () => {
    const relative = { ...launch, permissions: { ...launch.permissions, filesystem: { read: ["logs"], write: [] } } };
    expect(() => buildBwrapArgv({ ...plan, launch: relative })).toThrow("strict: paths must be absolute: logs");
  });

  test("the probe uses the namespaces a plugin gets", () => {
    expect(probeArgv("/usr/bin/bwrap")).toEqual(["/usr/bin/bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--", "true"]);
  });
});

describe("interpreter prefix", () => {
  test("an interpreter outside the system directories brings its install prefix, read-only", () => {
    expect(interpreterPrefix("/root/.pyenv/versions/3.11.7/bin/python3.11")).toBe("/root/.pyenv/versions/3.11.7");
    expect(interpreterPrefix("/opt/node/bin/node")).toBe("/opt/node");
    expect(interpreterPrefix("/usr/bin/python3.11")).toBeNull();
    expect(interpreterPrefix("/usr/local/bin/python3")).toBeNull();
  });
});
