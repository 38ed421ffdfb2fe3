/**
 * `stavily service`: every install writes under a --root temp dir (never the machine); systemctl is a
 * hand-written fake on PATH where a test needs an answer from it.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { shippedFiles } from "../../src/core/service/index.ts";
import { hostBinary } from "../support/binary.ts";
import { repoRoot, runCli, type RunOptions } from "../support/cli.ts";

const scratch = mkdtempSync(join(tmpdir(), "stavily-service-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let roots = 0;
/** A machine of its own: /etc/passwd and /etc/group with the stavily user (uid 990). */
function machine(): string {
  const root = join(scratch, `root-${++roots}`);
  mkdirSync(join(root, "etc"), { recursive: true });
  writeFileSync(join(root, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nstavily:x:990:991::/var/lib/stavily:/usr/sbin/nologin\n");
  writeFileSync(join(root, "etc", "group"), "root:x:0:\nstavily:x:991:\n");
  return root;
}

function file(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

const service = (root: string, args: string[], options: RunOptions = {}) => runCli(["service", ...args, "--root", root], options);
const unitDir = (root: string) => join(root, "etc", "systemd", "system");
const dropIn = (root: string, type: string, id: string) => join(unitDir(root), `stavily-${type}@${id}.service.d`, "10-stavily.conf");
const configOf = (root: string, type: string, id: string) => join(root, "etc", "stavily", `${type}-${id}.yaml`);

/** A fake systemctl that says every unit is active, and another that is not the init system (as here). */
function fakeSystemctl(kind: "active" | "not-booted"): string {
  const bin = join(scratch, `bin-${kind}`);
  mkdirSync(bin, { recursive: true });
  const script =
    kind === "active"
      ? '#!/bin/sh\ncase "$1" in\n  is-active) echo active ;;\n  status) echo "* $4 - fake"; echo "   Active: active (running)" ;;\n  *) exit 1 ;;\nesac\n'
      : '#!/bin/sh\necho "System has not been booted with systemd as init system (PID 1). Can\'t operate." >&2\nexit 1\n';
  writeFileSync(join(bin, "systemctl"), script);
  chmodSync(join(bin, "systemctl"), 0o755);
  return bin;
}
const withPath = (bin: string): RunOptions => ({ env: { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` } });

describe("stavily service install (systemd)", () => {
  test("writes the template, the instance drop-in, the config and the home, owned as they should be", async () => {
    const root = machine();
    const { code, stdout, stderr } = await service(root, ["install", "sensor", "--id", "web-01"]);
    expect(stderr).toBe("note: /usr/local/bin/stavily does not exist: install the stavily executable there, or pass --binary\n");
    expect(code).toBe(0);
    expect(stdout).toContain(`wrote ${configOf(root, "sensor", "web-01")} (0640 root:stavily)`);
    expect(stdout).toContain("to start it:\n  systemctl daemon-reload && systemctl enable --now stavily-sensor@web-01\n");

    const config = statSync(configOf(root, "sensor", "web-01"));
    expect([config.mode & 0o777, config.uid, config.gid]).toEqual([0o640, 0, 991]);
    expect(parse(readFileSync(configOf(root, "sensor", "web-01"), "utf8"))).toEqual({
      agent: { type: "sensor", id: "web-01", base_dir: "/var/lib/stavily" },
      health: { port: 9101 },
    });
    const home = join(root, "var", "lib", "stavily", "agent-web-01");
    for (const dir of [home, join(home, "data", "state"), join(home, "logs", "audit")]) {
      const stat = statSync(dir);
      expect([stat.uid, stat.gid]).toEqual([990, 991]);
    }
    expect(statSync(join(home, "data", "state")).mode & 0o777).toBe(0o700);

    const template = readFileSync(join(unitDir(root), "stavily-sensor@.service"), "utf8");
    expect(template).toBe(shippedFiles().find((item) => item.file === "deployments/systemd/stavily-sensor@.service")!.text);
    for (const line of [
      "ExecStart=/usr/local/bin/stavily sensor --config /etc/stavily/sensor-%i.yaml",
      "ExecReload=/bin/kill -HUP $MAINPID",
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      // The sensor watches disks and logs under /home; the action agent never sees them.
      "ProtectHome=read-only",
      "PrivateTmp=yes",
      "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
      "Restart=on-failure",
      "KillMode=mixed",
    ]) {
      expect(template).toContain(`\n${line}\n`);
    }
    expect(shippedFiles().find((item) => item.file === "deployments/systemd/stavily-action@.service")!.text).toContain("\nProtectHome=yes\n");
    const instance = readFileSync(dropIn(root, "sensor", "web-01"), "utf8");
    expect(instance).toContain("\nUser=stavily\nGroup=stavily\nReadWritePaths=\nReadWritePaths=/var/lib/stavily/agent-web-01\nTimeoutStopSec=45s\n");
  });

  test("the stop timeout follows agent.shutdown_grace, and a copied config keeps its comments", async () => {
    const root = machine();
    const source = file("grace.yaml", "# ours\nagent:\n  type: action # kept\n  shutdown_grace: 2m\nhealth:\n  port: 9300\n");
    const { code, stderr } = await service(root, ["install", "action", "--id", "ops", "--config", source]);
    expect(code, stderr).toBe(0);
    // 2 min of grace, 10 s for a cancelled plugin (action.cancel_grace_period), 15 s to say offline and exit.
    expect(readFileSync(dropIn(root, "action", "ops"), "utf8")).toContain("\nTimeoutStopSec=145s\n");
    const written = readFileSync(configOf(root, "action", "ops"), "utf8");
    expect(written).toStartWith("# ours\nagent:\n  type: action # kept\n");
    expect(parse(written).agent).toEqual({ type: "action", shutdown_grace: "2m", id: "ops", base_dir: "/var/lib/stavily" });
  });

  test("a config that names everything is copied byte for byte", async () => {
    const root = machine();
    const text = "agent:\n  type: sensor\n  id: db-01\n  base_dir: /srv/stavily\n\nhealth:\n  port: 9400   # fixed\n";
    const { code, stderr } = await service(root, ["install", "sensor", "--id", "db-01", "--config", file("db.yaml", text)]);
    expect(code, stderr).toBe(0);
    expect(readFileSync(configOf(root, "sensor", "db-01"), "utf8")).toBe(text);
    expect(existsSync(join(root, "srv", "stavily", "agent-db-01", "data", "state"))).toBe(true);
    expect(readFileSync(dropIn(root, "sensor", "db-01"), "utf8")).toContain("\nReadWritePaths=/srv/stavily/agent-db-01\n");
  });

  test("a home under /home stays writable: ProtectHome becomes read-only there", async () => {
    const root = machine();
    const config = file("home.yaml", "agent:\n  base_dir: /home/agents\n");
    expect((await service(root, ["install", "sensor", "--id", "h", "--config", config])).code).toBe(0);
    expect(readFileSync(dropIn(root, "sensor", "h"), "utf8")).toContain("\nProtectHome=read-only\nReadWritePaths=\nReadWritePaths=/home/agents/agent-h\n");
    const spaced = await service(root, ["install", "sensor", "--id", "s", "--config", file("spaced.yaml", "agent:\n  base_dir: /srv/my agents\n")]);
    expect(spaced.code).toBe(2);
    expect(spaced.stderr).toContain(`the agent home "/srv/my agents/agent-s": systemd would misread it`);
  });

  test("--dry-run prints every file and writes nothing", async () => {
    const root = machine();
    const { code, stdout } = await service(root, ["install", "action", "--id", "ops", "--dry-run"]);
    expect(code).toBe(0);
    expect(stdout).toContain(`would write ${configOf(root, "action", "ops")} (0640 root:stavily):\n  # Stavily action agent "ops"`);
    expect(stdout).toContain(`would write ${join(unitDir(root), "stavily-action@.service")} (0644 root:root):\n  # Generated by`);
    expect(stdout).toContain("  ExecStart=/usr/local/bin/stavily action --config /etc/stavily/action-%i.yaml\n");
    expect(stdout).toContain(`would create the home ${join(root, "var", "lib", "stavily", "agent-ops")} owned by stavily:stavily`);
    expect(readdirSync(root)).toEqual(["etc"]);
    expect(readdirSync(join(root, "etc")).sort()).toEqual(["group", "passwd"]);
  });

  test("an id with characters systemd or the home would misread is refused", async () => {
    for (const id of ["../x", "Web", "a b", "-x", "x".repeat(64)]) {
      const { code, stderr } = await service(machine(), ["install", "sensor", `--id=${id}`]);
      expect(code).toBe(2);
      expect(stderr).toContain(`stavily: --id "${id}": expected 1-63 characters: a-z, 0-9, '.', '_' or '-'`);
    }
  });

  test("an installed id is refused unless --force, and an id taken by the other type always", async () => {
    const root = machine();
    expect((await service(root, ["install", "sensor", "--id", "web-01"])).code).toBe(0);
    const again = await service(root, ["install", "sensor", "--id", "web-01"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`stavily: sensor agent "web-01" is already installed (/etc/stavily/sensor-web-01.yaml and /etc/systemd/system/stavily-sensor@web-01.service.d/10-stavily.conf); pass --force to write it again`);
    // Installed again, it keeps the operator's edits (and so its own port).
    const edited = `${readFileSync(configOf(root, "sensor", "web-01"), "utf8")}api:\n  base_url: https://orchestrator.example.com\n`;
    writeFileSync(configOf(root, "sensor", "web-01"), edited);
    const forced = await service(root, ["install", "sensor", "--id", "web-01", "--force"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(configOf(root, "sensor", "web-01"), "utf8")).toBe(edited);

    const other = await service(root, ["install", "action", "--id", "web-01", "--force"]);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain(`stavily: id "web-01" is taken by the installed sensor agent`);
  });

  test("a config whose agent.type or agent.id disagrees with the command is refused", async () => {
    const root = machine();
    const wrongType = await service(root, ["install", "sensor", "--id", "a", "--config", file("t.yaml", "agent:\n  type: action\n")]);
    expect(wrongType.code).toBe(2);
    expect(wrongType.stderr).toContain("is the config of a action agent (agent.type), not a sensor agent");
    const wrongId = await service(root, ["install", "sensor", "--id", "a", "--config", file("i.yaml", "agent:\n  id: b\n")]);
    expect(wrongId.code).toBe(2);
    expect(wrongId.stderr).toContain(`is the config of agent "b" (agent.id), but --id is "a"`);
    const invalid = await service(root, ["install", "sensor", "--id", "a", "--config", file("bad.yaml", "agent:\n  heartbeat: often\n")]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain("bad.yaml:2:14 agent.heartbeat: expected a duration");
    expect(existsSync(join(root, "etc", "stavily"))).toBe(false);
  });

  test("an id that looks like a number stays text", async () => {
    const root = machine();
    const { code, stderr } = await service(root, ["install", "sensor", "--id", "007"]);
    expect(code, stderr).toBe(0);
    expect(parse(readFileSync(configOf(root, "sensor", "007"), "utf8")).agent.id).toBe("007");
    expect(existsSync(dropIn(root, "sensor", "007"))).toBe(true);
  });

  test("a template other instances use is not changed behind their back", async () => {
    const root = machine();
    expect((await service(root, ["install", "sensor", "--id", "a", "--binary", "/opt/one/stavily"])).code).toBe(0);
    const refused = await service(root, ["install", "sensor", "--id", "b", "--binary", "/opt/two/stavily"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("stavily-sensor@.service differs from the one this install writes (another --binary?) and sensor agents a use it; pass --force");
    expect((await service(root, ["install", "sensor", "--id", "b", "--binary", "/opt/two/stavily", "--force"])).code).toBe(0);
    expect(readFileSync(join(unitDir(root), "stavily-sensor@.service"), "utf8")).toContain("\nExecStart=/opt/two/stavily sensor ");
  });

  test("--user root is refused unless the config allows root", async () => {
    const { code, stderr } = await service(machine(), ["install", "action", "--id", "ops", "--user", "root"]);
    expect(code).toBe(2);
    expect(stderr).toContain("--user root: the agent refuses to run as root unless its config sets security.allow_root: true");
  });

  test("a user that does not exist yet leaves the files root's and says how to fix it", async () => {
    const root = machine();
    const { code, stderr } = await service(root, ["install", "sensor", "--id", "x", "--user", "agentuser"]);
    expect(code).toBe(0);
    expect(stderr).toContain(`note: user "agentuser" does not exist: create it (Linux: useradd --system --user-group`);
    expect(statSync(configOf(root, "sensor", "x")).gid).toBe(0);
    expect(readFileSync(dropIn(root, "sensor", "x"), "utf8")).toContain("\nUser=agentuser\nGroup=agentuser\n");
  });
});

describe("several agents on one machine", () => {
  test("side by side they share no config, home, port, unit or path", async () => {
    const root = machine();
    const ids = [["sensor", "web-01"], ["sensor", "web-02"], ["action", "ops"], ["action", "deploy"]] as const;
    for (const [type, id] of ids) {
      const { code, stderr } = await service(root, ["install", type, "--id", id]);
      expect(code, stderr).toBe(0);
    }
    const listed = await service(root, ["list", "--json"], withPath(fakeSystemctl("not-booted")));
    expect(listed.code).toBe(0);
    const rows = JSON.parse(listed.stdout) as Array<{ type: string; id: string; config: string; unit: string; home: string; status: string }>;
    expect(rows.map((row) => `${row.type}/${row.id}`)).toEqual(["action/deploy", "action/ops", "sensor/web-01", "sensor/web-02"]);
    expect(rows.every((row) => row.status === "unknown")).toBe(true);

    const ports = rows.map((row) => parse(readFileSync(row.config, "utf8")).health.port);
    expect(ports.sort()).toEqual([9101, 9102, 9201, 9202]);
    const shared = (values: string[]) => values.length - new Set(values).size;
    for (const key of ["config", "unit", "home"] as const) expect(shared(rows.map((row) => row[key]))).toBe(0);
    // No home lies inside another's, and no unit names another's home.
    for (const row of rows) {
      expect(rows.filter((other) => other !== row && other.home.startsWith(`${row.home}/`))).toEqual([]);
      const unitText = readFileSync(row.unit, "utf8");
      for (const other of rows) if (other !== row) expect(unitText).not.toContain(`agent-${other.id}\n`);
    }
  });

  test("a copied config that would share a port or a directory with an installed agent is refused", async () => {
    const root = machine();
    expect((await service(root, ["install", "sensor", "--id", "a"])).code).toBe(0);
    const shared = file("shared.yaml", "agent:\n  type: sensor\nhealth:\n  port: 9105\nplugins:\n  directory: /opt/plugins\n");
    expect((await service(root, ["install", "sensor", "--id", "b", "--config", shared])).code).toBe(0);
    const clash = file("clash.yaml", "agent:\n  type: sensor\nhealth:\n  port: 9101\nplugins:\n  directory: /opt/plugins\n");
    const third = await service(root, ["install", "sensor", "--id", "c", "--config", clash]);
    expect(third.code).toBe(2);
    expect(third.stderr).toContain(`would share resources with another installed agent`);
    expect(third.stderr).toContain(`health port 9101 is also used by sensor agent "a"`);
    expect(third.stderr).toContain(`plugins.directory /opt/plugins is also used by sensor agent "b"`);
  });
});

describe("stavily service uninstall", () => {
  test("removes the service files, keeps config and home unless --purge, and the template with the last instance", async () => {
    const root = machine();
    for (const id of ["a", "b"]) expect((await service(root, ["install", "sensor", "--id", id])).code).toBe(0);
    const template = join(unitDir(root), "stavily-sensor@.service");

    const first = await service(root, ["uninstall", "sensor", "--id", "a"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`removed ${dropIn(root, "sensor", "a")}`);
    expect(first.stdout).toContain(`kept ${configOf(root, "sensor", "a")} (--purge removes it)`);
    expect(first.stdout).toContain("then:\n  systemctl daemon-reload\n");
    expect(existsSync(join(unitDir(root), "stavily-sensor@a.service.d"))).toBe(false);
    expect(existsSync(template)).toBe(true);

    const purged = await service(root, ["uninstall", "sensor", "--id", "b", "--purge"]);
    expect(purged.code, purged.stderr).toBe(0);
    expect(existsSync(template)).toBe(false);
    expect(existsSync(configOf(root, "sensor", "b"))).toBe(false);
    expect(existsSync(join(root, "var", "lib", "stavily", "agent-b"))).toBe(false);
    expect(existsSync(join(root, "var", "lib", "stavily", "agent-a"))).toBe(true);

    const gone = await service(root, ["uninstall", "sensor", "--id", "b"]);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain(`sensor agent "b" is not installed`);
  });
});

describe("stavily service list and status", () => {
  test("list and status ask systemctl when it answers", async () => {
    const root = machine();
    expect((await service(root, ["install", "action", "--id", "ops"])).code).toBe(0);
    const path = withPath(fakeSystemctl("active"));
    const listed = await service(root, ["list"], path);
    expect(listed.stdout.split("\n")[1]).toMatch(/^action\s+ops\s+active\s+\S+action-ops\.yaml\s+\S+agent-ops$/);
    const status = await service(root, ["status", "action", "--id", "ops"], path);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain("  service active\n    * stavily-action@ops.service - fake\n");
  });

  test("without systemd, status says so and shows what the health port answers", async () => {
    const root = machine();
    using server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (request) => (new URL(request.url).pathname === "/ready" ? Response.json({ status: "ready" }) : new Response("", { status: 404 })) });
    const config = file("health.yaml", `agent:\n  type: sensor\nhealth:\n  port: ${server.port}\n`);
    expect((await service(root, ["install", "sensor", "--id", "h", "--config", config])).code).toBe(0);
    const status = await service(root, ["status", "sensor", "--id", "h"], withPath(fakeSystemctl("not-booted")));
    expect(status.stdout).toContain("  service unknown: systemctl cannot answer here: System has not been booted with systemd");
    expect(status.stdout).toContain(`  health  http://127.0.0.1:${server.port}/ready: 200\n`);
    expect(status.code).toBe(0);

    const port = server.port;
    server.stop(true);
    const down = await service(root, ["status", "sensor", "--id", "h"], withPath(fakeSystemctl("not-booted")));
    expect(down.code).toBe(1);
    expect(down.stdout).toContain(`  health  http://127.0.0.1:${port}/ready: no answer (`);
  });
});

describe("other platforms", () => {
  test("macOS: a launchd plist that parses, one per agent", async () => {
    const root = machine();
    const { code, stdout, stderr } = await service(root, ["install", "sensor", "--id", "mac-01", "--platform", "darwin"]);
    expect(code, stderr).toBe(0);
    const plist = join(root, "Library", "LaunchDaemons", "io.stavily.sensor.mac-01.plist");
    expect(stdout).toContain(`to start it:\n  launchctl bootstrap system /Library/LaunchDaemons/io.stavily.sensor.mac-01.plist\n`);
    const python = Bun.spawnSync(["python3", "-c", "import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], 'rb'))))", plist]);
    expect(python.exitCode, python.stderr.toString()).toBe(0);
    const parsed = JSON.parse(python.stdout.toString());
    expect(parsed).toMatchObject({
      Label: "io.stavily.sensor.mac-01",
      ProgramArguments: ["/usr/local/bin/stavily", "sensor", "--config", "/etc/stavily/sensor-mac-01.yaml"],
      UserName: "stavily",
      KeepAlive: { SuccessfulExit: false },
      ExitTimeOut: 45,
    });
    const listed = JSON.parse((await service(root, ["list", "--json", "--platform", "darwin"])).stdout);
    expect(listed).toMatchObject([{ type: "sensor", id: "mac-01", unit: plist }]);
  });

  test("Windows: the config is written and the sc.exe commands printed, not run", async () => {
    const root = machine();
    const { code, stdout, stderr } = await service(root, ["install", "action", "--id", "win-01", "--platform", "win32"]);
    expect(code, stderr).toBe(0);
    expect(stderr).toContain("note: stavily.exe does not implement the Windows service control handshake yet");
    expect(existsSync(join(root, "ProgramData", "Stavily", "action-win-01.yaml"))).toBe(true);
    expect(stdout).toContain(
      `  sc.exe create stavily-action-win-01 binPath= "\\"C:\\Program Files\\Stavily\\stavily.exe\\" action --config \\"C:\\ProgramData\\Stavily\\action-win-01.yaml\\"" start= delayed-auto`,
    );
    expect(stdout).toContain("  sc.exe failure stavily-action-win-01 reset= 86400 actions= restart/5000/restart/5000/restart/60000\n");
  });
});

describe("shipped units", () => {
  test.each(shippedFiles().map((item) => [item.file, item.text] as const))("%s is what install writes (run bun src/core/service/shipped.ts)", (name, text) => {
    expect(readFileSync(join(repoRoot, name), "utf8")).toBe(text);
  });

  test("systemd-analyze verify accepts the template and the instances, without warnings", async () => {
    const binary = await hostBinary();
    const root = machine();
    // The compiled binary itself installs, and ExecStart names it so that verify finds it.
    for (const [type, id] of [["sensor", "web-01"], ["action", "ops"]] as const) {
      const { code, stderr } = await runCli(["service", "install", type, "--id", id, "--root", root, "--binary", binary], { binary, timeoutMs: 60_000 });
      expect(code, stderr).toBe(0);
    }
    const units = ["stavily-sensor@web-01.service", "stavily-action@ops.service", join(unitDir(root), "stavily-sensor@.service"), join(unitDir(root), "stavily-action@.service")];
    // Our units first in the search path, the system's after (the trailing colon), for the targets they name.
    const verify = Bun.spawnSync(["systemd-analyze", "verify", ...units], { env: { ...process.env, SYSTEMD_UNIT_PATH: `${unitDir(root)}:`, SYSTEMD_LOG_COLOR: "0" } });
    const output = `${verify.stdout.toString()}${verify.stderr.toString()}`;
    expect(output).toBe("");
    expect(verify.exitCode).toBe(0);

    // The same check does see a mistake in a drop-in, so its silence above means something.
    writeFileSync(join(unitDir(root), "stavily-action@ops.service.d", "99-typo.conf"), "[Service]\nProtectSytem=strict\n");
    const typo = Bun.spawnSync(["systemd-analyze", "verify", "stavily-action@ops.service"], { env: { ...process.env, SYSTEMD_UNIT_PATH: `${unitDir(root)}:`, SYSTEMD_LOG_COLOR: "0" } });
    expect(typo.stderr.toString()).toContain("Unknown key 'ProtectSytem' in section [Service]");
  }, 600_000);
});
