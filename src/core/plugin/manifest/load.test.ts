import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StavilyError } from "../../errors.ts";
import { discoverPlugins, loadManifest, parseManifest } from "./index.ts";

const root = mkdtempSync(join(tmpdir(), "stavily-manifest-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const testdata = join(import.meta.dir, "testdata");

const GOOD = `plugin:
  id: disk-usage
  name: Disk usage
  version: 1.2.0
  type: trigger
  runtime:
    type: bun
    entry_point: src/index.ts
  configuration:
    path:
      type: string
      default: /
  limits:
    memory: 128MB
    cpu: 0.5
    execution_time: 30s
  permissions:
    network: true
    filesystem:
      read: [/var/log]
    exec: [df]
  idempotent: true
  tags: [disk]
`;

let counter = 0;
/** A plugin directory with `manifest` as plugin.yaml and the given files (relative path → content). */
function plugin(manifest: string, files: Record<string, string> = { "src/index.ts": "export {};\n" }, parent = root): string {
  const dir = join(parent, `plugin-${++counter}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "plugin.yaml"), manifest);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

function refusal(run: () => unknown): StavilyError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(StavilyError);
    expect((error as StavilyError).component).toBe("plugin");
    expect((error as StavilyError).exitCode).toBe(2);
    return error as StavilyError;
  }
  throw new Error("expected the manifest to be refused");
}

const problems = (text: string) => refusal(() => parseManifest(text, "plugin.yaml")).details;

describe("loadManifest", () => {
  test("a good manifest loads with its defaults, limits in bytes, cores and milliseconds", () => {
    const dir = plugin(GOOD);
    const manifest = loadManifest(dir);
    expect(manifest).toMatchObject({
      id: "disk-usage",
      version: "1.2.0",
      type: "trigger",
      description: "",
      dir,
      file: join(dir, "plugin.yaml"),
      runtime: { type: "bun", entry_point: "src/index.ts", requirements: [] },
      limits: { memory: 128_000_000, cpu: 0.5, execution_time: 30_000 },
      permissions: { network: true, filesystem: { read: ["/var/log"], write: [] }, exec: ["df"], system_calls: [], capabilities: [] },
      idempotent: true,
      tags: ["disk"],
      categories: [],
    });
    expect(manifest.configuration.path).toEqual({ type: "string", default: "/", description: "", required: false });
  });

  test("the Go agents' example manifests load, legacy keys included", () => {
    const cpu = loadManifest(join(testdata, "cpu-monitor"));
    expect(cpu.runtime).toEqual({ type: "python", entry_point: "cpu_monitor.py", requirements: [], requirements_file: "requirements.txt", version: "3.8+" });
    expect(cpu.limits).toEqual({ memory: 64_000_000, cpu: 0.1, execution_time: 60_000 });
    expect(cpu.permissions.system_calls).toEqual(["sysinfo"]);
    expect(cpu.configuration.threshold).toMatchObject({ type: "number", default: 80, minimum: 0, maximum: 100 });

    const restart = loadManifest(join(testdata, "service-restart"));
    expect(restart).toMatchObject({ type: "action", homepage: "https://example.com/service-restart", idempotent: false });
    expect(restart.configuration.service_manager?.enum).toEqual(["systemctl", "service", "docker"]);
    expect(restart.permissions.capabilities).toEqual(["CAP_SYS_ADMIN"]);
  });

  test("empty sections, as in the Go agents' template, take the defaults", () => {
    const manifest = parseManifest(
      `plugin:
  id: "plugin-id"
  name: "Plugin Name"
  description:
  version: "1.0.0"
  type: "action"
  runtime:
    type: "python"
    entry_point: "main.py"
  configuration:
    # Plugin-specific config schema
  limits:
  permissions:
    network: false
    filesystem:
      read:
`,
      "plugin.yaml",
    );
    expect(manifest).toMatchObject({ description: "", configuration: {}, limits: { memory: 0, cpu: 0, execution_time: 0 } });
    expect(manifest.permissions.filesystem).toEqual({ read: [], write: [] });
  });

  test("a manifest with several mistakes reports all of them, each at its line and column", () => {
    const text = `plugin:
  id: Disk Usage
  name: Disk usage
  version: 1.2
  type: sensor
  runtime:
    type: bun
    entry_point: src/index.ts
  limits:
    memory: lots
`;
    expect(problems(text)).toEqual([
      "plugin.yaml:2:7 plugin.id: expected a plugin id of 1-63 characters: a-z, 0-9, '.', '_' or '-', starting with a letter or digit, got \"Disk Usage\"",
      'plugin.yaml:4:12 plugin.version: expected a semantic version like "1.2.0" (quote it), got 1.2',
      'plugin.yaml:5:9 plugin.type: expected one of "trigger", "action", "output", got "sensor"',
      'plugin.yaml:10:13 plugin.limits.memory: expected a size like "128MB" or a number of bytes, got "lots"',
    ]);
  });

  test("unknown keys are errors with a did-you-mean, at the key", () => {
    const text = GOOD.replace("  idempotent: true", "  idempotant: true").replace("    entry_point:", "    entrypoint:");
    expect(problems(text)).toEqual([
      'plugin.yaml:7:5 plugin.runtime.entry_point: missing required key "entry_point"',
      'plugin.yaml:8:5 plugin.runtime.entrypoint: unknown key (did you mean "entry_point"?)',
      'plugin.yaml:22:3 plugin.idempotant: unknown key (did you mean "idempotent"?)',
    ]);
  });

  test("configuration fields: unknown keys, bounds, patterns and defaults are checked where they are written", () => {
    const text = GOOD.replace(
      "    path:\n      type: string\n      default: /\n",
      `    threshold:
      type: number
      minimun: 0
    level:
      type: integer
      minimum: 10
      maximum: 1
    name:
      type: string
      pattern: "([a-z"
    mode:
      type: string
      enum: [fast, slow]
      default: medium
`,
    );
    expect(problems(text)).toEqual([
      'plugin.yaml:12:7 plugin.configuration.threshold.minimun: unknown key (did you mean "minimum"?)',
      "plugin.yaml:16:16 plugin.configuration.level.maximum: maximum 1 is below minimum 10",
      expect.stringMatching(/^plugin\.yaml:19:16 plugin\.configuration\.name\.pattern: not a valid regular expression: \w/),
      'plugin.yaml:23:16 plugin.configuration.mode.default: the default does not fit the field: expected one of "fast", "slow", got "medium"',
    ]);
  });

  test("an entry point that escapes the plugin directory is refused, by path or by symlink", () => {
    expect(problems(GOOD.replace("src/index.ts", "../outside.ts"))).toEqual([
      'plugin.yaml:8:18 plugin.runtime.entry_point: expected the entry point: a relative path inside the plugin directory, got "../outside.ts"',
    ]);
    expect(problems(GOOD.replace("src/index.ts", "/usr/bin/env"))).toHaveLength(1);

    writeFileSync(join(root, "outside.ts"), "export {};\n");
    const dir = plugin(GOOD.replace("src/index.ts", "link.ts"), {});
    symlinkSync(join(root, "outside.ts"), join(dir, "link.ts"));
    expect(refusal(() => loadManifest(dir)).details).toEqual([
      expect.stringMatching(/plugin\.yaml:8:18 plugin\.runtime\.entry_point: entry point "link\.ts" resolves to .*outside\.ts, outside the plugin directory$/),
    ]);
  });

  test("a missing entry point or plugin.yaml is refused", () => {
    const dir = plugin(GOOD, {});
    expect(refusal(() => loadManifest(dir)).details).toEqual([
      expect.stringMatching(/:8:18 plugin\.runtime\.entry_point: entry point "src\/index\.ts" does not exist in /),
    ]);
    expect(refusal(() => loadManifest(root)).message).toBe(`${root}: no plugin.yaml`);
  });

  test("YAML errors and a missing root key are reported with their position", () => {
    expect(problems("plugin:\n  id: a\n  id: b\n")[0]).toMatch(/^plugin\.yaml:3:3 invalid YAML: /);
    expect(problems("id: disk-usage\nname: Disk usage\n")).toEqual([
      "plugin.yaml:1:1 expected the manifest under a root key plugin: (id, name, version, type, runtime… are written at the top level)",
    ]);
    expect(problems("# comment\nplugins:\n  id: x\n")).toEqual(['plugin.yaml:2:1 plugin: missing required key "plugin"', 'plugin.yaml:2:1 plugins: unknown key (did you mean "plugin"?)']);
    expect(problems("- a list\n")).toEqual(["plugin.yaml:1:1 expected a mapping with the root key plugin:"]);
    expect(problems("")).toEqual(["plugin.yaml:1:1 expected a mapping with the root key plugin:"]);
  });
});

describe("discoverPlugins", () => {
  test("returns the good plugins and the problems of the bad ones", () => {
    const parent = join(root, "plugins");
    mkdirSync(parent);
    plugin(GOOD, undefined, parent);
    plugin(GOOD.replace("type: trigger", "type: sensor"), undefined, parent);
    plugin(GOOD, undefined, parent); // the same id again
    plugin(GOOD.replace("disk-usage", "other"), undefined, parent);
    mkdirSync(join(parent, "no-manifest"));
    mkdirSync(join(parent, ".staging"));
    writeFileSync(join(parent, ".staging", "plugin.yaml"), "not: a manifest\n");
    writeFileSync(join(parent, "stray-file.yaml"), "x: 1\n");

    const { plugins, failures } = discoverPlugins(parent);
    expect(plugins.map((item) => item.id)).toEqual(["disk-usage", "other"]);
    expect(failures).toHaveLength(2);
    expect(failures[0]!.error.details).toEqual([expect.stringMatching(/plugin\.yaml:5:9 plugin\.type: expected one of "trigger", "action", "output", got "sensor"$/)]);
    expect(failures[1]!.error.message).toMatch(/plugin id "disk-usage" is already used by .*plugin-\d+$/);
  });

  test("a plugins directory that does not exist yet holds no plugins", () => {
    expect(discoverPlugins(join(root, "nowhere"))).toEqual({ plugins: [], failures: [] });
  });
});
