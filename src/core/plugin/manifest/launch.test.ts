import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { ConfigSchema } from "../../config/index.ts";
import { StavilyError } from "../../errors.ts";
import { agentHomePaths } from "../../home/index.ts";
import type { AgentIdentity } from "../types.ts";
import { loadManifest, toLaunch, type LaunchOptions, type PluginManifest, type SandboxConfig } from "./index.ts";

const root = realpathSync(mkdtempSync(join(tmpdir(), "stavily-launch-")));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const DEFAULT_SANDBOX: SandboxConfig = v.parse(ConfigSchema, {}).security.sandbox;
const agent: AgentIdentity = { id: "sensor-1", type: "sensor", name: "sensor 1", environment: "test", tags: [] };
const home = agentHomePaths(join(root, "base"), agent.id);

let counter = 0;
function plugin(extra = ""): PluginManifest {
  const dir = join(root, `plugin-${++counter}`);
  mkdirSync(dir);
  writeFileSync(join(dir, "main.ts"), "export {};\n");
  writeFileSync(
    join(dir, "plugin.yaml"),
    `plugin:
  id: log-tail
  name: Log tail
  version: 1.0.0
  type: trigger
  runtime: { type: bun, entry_point: ./main.ts }
${extra}`,
  );
  return loadManifest(dir);
}

function options(sandbox: Partial<SandboxConfig> = {}, instance = "nginx-errors"): LaunchOptions {
  return { home, agent, instance, config: { path: "/var/log/nginx/error.log" }, sandbox: { ...DEFAULT_SANDBOX, ...sandbox } };
}

function refusal(run: () => unknown): StavilyError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(StavilyError);
    expect((error as StavilyError).component).toBe("plugin");
    return error as StavilyError;
  }
  throw new Error("expected the launch to be refused");
}

describe("toLaunch", () => {
  test("builds the launch: absolute entry, per-instance work and state dirs, one log per plugin", () => {
    const manifest = plugin();
    expect(toLaunch(manifest, options())).toEqual({
      id: "log-tail",
      instance: "nginx-errors",
      kind: "trigger",
      dir: manifest.dir,
      entry: join(manifest.dir, "main.ts"),
      runtime: "bun",
      config: { path: "/var/log/nginx/error.log" },
      agent,
      workDir: join(home.workdir, "log-tail", "nginx-errors"),
      logFile: join(home.pluginLogs, "log-tail.log"),
      stateDir: join(home.data, "plugins-state", "log-tail", "nginx-errors"),
      permissions: { network: false, filesystem: { read: [], write: [] }, exec: [], system_calls: [], capabilities: [] },
      // Undeclared memory and cpu become the sandbox's; an undeclared execution time is left to the call's deadline.
      limits: { memory: DEFAULT_SANDBOX.max_memory, cpu: DEFAULT_SANDBOX.max_cpu, execution_time: 0 },
    });
  });

  test("limits are capped by the sandbox's, and kept when below them", () => {
    const manifest = plugin("  limits: { memory: 2GiB, cpu: 4, execution_time: 1h }\n");
    expect(toLaunch(manifest, options()).limits).toEqual({ memory: 512 * 1024 ** 2, cpu: 1, execution_time: 5 * 60_000 });
    const small = plugin("  limits: { memory: 64MB, cpu: 0.25, execution_time: 30s }\n");
    expect(toLaunch(small, options()).limits).toEqual({ memory: 64_000_000, cpu: 0.25, execution_time: 30_000 });
    expect(toLaunch(manifest, options({ enabled: false })).limits).toEqual({ memory: 2 * 1024 ** 3, cpu: 4, execution_time: 3_600_000 });
  });

  test("network is refused, not dropped, when the sandbox forbids it", () => {
    const manifest = plugin("  permissions: { network: true }\n");
    expect(toLaunch(manifest, options()).permissions.network).toBe(true);
    const error = refusal(() => toLaunch(manifest, options({ network_access: false })));
    expect(error.message).toBe("plugin log-tail: the sandbox refuses 1 permission");
    expect(error.details).toEqual([`${manifest.file} plugin.permissions.network: the plugin needs the network, but security.sandbox.network_access is false`]);
  });

  test("filesystem paths under, or containing, a forbidden path are refused, and so are paths outside allowed_paths", () => {
    const manifest = plugin(`  permissions:
    filesystem:
      read: [/var/log/nginx, /etc]
      write: [/tmp/out]
`);
    const forbidden = refusal(() => toLaunch(manifest, options({ forbidden_paths: ["/var/log", "/etc/shadow"] })));
    expect(forbidden.details).toEqual([
      `${manifest.file} plugin.permissions.filesystem.read.0: /var/log/nginx is under /var/log, which security.sandbox.forbidden_paths forbids`,
      `${manifest.file} plugin.permissions.filesystem.read.1: /etc contains /etc/shadow, which security.sandbox.forbidden_paths forbids`,
    ]);
    const outside = refusal(() => toLaunch(manifest, options({ allowed_paths: ["/var/log", "/etc"] })));
    expect(outside.details).toEqual([`${manifest.file} plugin.permissions.filesystem.write.0: /tmp/out is outside security.sandbox.allowed_paths (/var/log, /etc)`]);
    expect(toLaunch(manifest, options({ allowed_paths: ["/var/log", "/etc", "/tmp"], forbidden_paths: ["/var/lib"] })).permissions.filesystem).toEqual({
      read: ["/var/log/nginx", "/etc"],
      write: ["/tmp/out"],
    });
  });

  test("an entry point removed since loading, or an instance name that is not an id, is refused", () => {
    const manifest = plugin();
    expect(refusal(() => toLaunch(manifest, options({}, "../escape"))).message).toMatch(/instance name "\.\.\/escape" is not an id/);
    rmSync(join(manifest.dir, "main.ts"));
    expect(refusal(() => toLaunch(manifest, options())).message).toMatch(/^plugin log-tail: entry point "\.\/main\.ts" does not exist in /);
  });
});
