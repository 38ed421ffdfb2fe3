/**
 * `stavily plugin …` through the CLI from source: scaffold, validate, run, install, roll back, remove.
 * Every command gets its own agent base dir, so nothing of the machine's agents is read or written.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanEnv, cliEntry, runCli } from "../support/cli.ts";
import { killAll, startProcess } from "../support/process.ts";

const work = mkdtempSync(join(tmpdir(), "stavily-plugin-cli-"));
afterAll(async () => {
  await killAll();
  rmSync(work, { recursive: true, force: true });
});

let homes = 0;
/** `stavily plugin <args>` with a fresh agent base dir unless `base` is given; cwd is the work dir. */
function plugin(args: string[], base = join(work, `base-${++homes}`)) {
  return runCli(["plugin", ...args, "--set", `agent.base_dir=${base}`], { cwd: work, timeoutMs: 60_000 });
}

/** Runs a command in `cwd` to completion (the scaffold's own tests). */
async function exec(command: string[], cwd: string) {
  const proc = Bun.spawn(command, { cwd, env: cleanEnv(), stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 60_000, killSignal: "SIGKILL" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, output: stdout + stderr };
}

let scaffolds = 0;
/** `plugin new` in a fresh directory; returns the plugin's folder. */
async function scaffold(kind: string, runtime = "bun", id = `p${++scaffolds}-${kind}`): Promise<string> {
  const dir = join(work, `scaffolds-${scaffolds}`);
  mkdirSync(dir, { recursive: true });
  const created = await runCli(["plugin", "new", id, "--type", kind, "--runtime", runtime, "--dir", dir], { cwd: work });
  expect(created.stderr).toBe("");
  expect(created.code).toBe(0);
  return join(dir, id);
}

describe("plugin list and info", () => {
  test("list shows the built-in echo, as a table and as JSON", async () => {
    const table = await plugin(["list"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+VERSION\s+TYPE\s+RUNTIME\s+SOURCE/);
    expect(table.stdout).toMatch(/\necho\s+0\.1\.0\s+action\s+bun\s+builtin/);
    const json = await plugin(["list", "--json"]);
    const listed = JSON.parse(json.stdout) as { plugins: { id: string; source: string }[]; failures: unknown[] };
    expect(listed.plugins).toContainEqual(expect.objectContaining({ id: "echo", source: "builtin" }));
    expect(listed.failures).toEqual([]);
  });

  test("list names a folder plugin that fails to load and still exits 0", async () => {
    const base = join(work, "base-broken");
    const broken = join(base, "agent-broken", "data", "plugins", "broken");
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, "plugin.yaml"), "plugin:\n  id: broken\n");
    const result = await runCli(["plugin", "list", "--type", "action", "--set", `agent.base_dir=${base}`, "--set", "agent.id=broken"], { cwd: work });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("not loaded (1):");
    expect(result.stdout).toMatch(/broken\/plugin\.yaml:\d+:\d+/);
  });

  test("info echo prints the manifest and the configuration's JSON Schema", async () => {
    const text = await plugin(["info", "echo"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("Echo (echo) 0.1.0");
    expect(text.stdout).toContain("execution_time: 5s");
    expect(text.stdout).toContain('"prefix"');
    const json = JSON.parse((await plugin(["info", "echo", "--json"])).stdout) as { id: string; source: string; config_schema: { properties: Record<string, unknown> } };
    expect(json).toMatchObject({ id: "echo", source: "builtin" });
    expect(Object.keys(json.config_schema.properties)).toEqual(["prefix"]);
  });

  test("info of an unknown id is a usage error that lists what there is", async () => {
    const result = await plugin(["info", "nope"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no plugin "nope"');
    expect(result.stderr).toContain("echo");
  });
});

describe("plugin new, then validate and the scaffold's own test", () => {
  test.each([
    ["trigger", "bun"],
    ["action", "bun"],
    ["output", "bun"],
  ])("%s on %s: valid, starts, and bun test passes inside it", async (kind, runtime) => {
    const dir = await scaffold(kind, runtime);
    const validated = await plugin(["validate", dir]);
    expect(validated.stderr).toBe("");
    expect(validated).toMatchObject({ code: 0 });
    expect(validated.stdout).toContain(`${kind} plugin`);
    const tested = await exec([process.execPath, "test"], dir);
    expect(tested.output).toMatch(/\b[1-9]\d* pass\b/);
    expect(tested.output).toContain(" 0 fail");
    expect(tested.code).toBe(0);
  });

  test.each(["trigger", "action"])("%s on python: valid, starts, and python3 -m unittest passes inside it", async (kind) => {
    const dir = await scaffold(kind, "python");
    const validated = await plugin(["validate", dir]);
    expect(validated.stderr).toBe("");
    expect(validated.code).toBe(0);
    const tested = await exec(["python3", "-m", "unittest"], dir);
    expect(tested.output).toContain("OK");
    expect(tested.code).toBe(0);
  });

  test("refuses a missing --type, an output on python, and a folder that is not empty", async () => {
    expect((await runCli(["plugin", "new", "x"], { cwd: work })).code).toBe(2);
    const python = await runCli(["plugin", "new", "x", "--type", "output", "--runtime", "python", "--dir", work], { cwd: work });
    expect(python.code).toBe(2);
    expect(python.stderr).toContain("bun only");
    const dir = await scaffold("action");
    const again = await runCli(["plugin", "new", dir.split("/").pop()!, "--type", "action", "--dir", join(dir, "..")], { cwd: work });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("is not empty");
  });
});

describe("plugin validate", () => {
  test("prints every manifest problem as file:line:col and exits 2", async () => {
    const dir = join(work, "bad-manifest");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "index.ts"), "export default {};\n");
    writeFileSync(join(dir, "plugin.yaml"), ["plugin:", "  id: Bad", "  name: Bad", '  version: "1.0.0"', "  type: actoin", "  runtime:", "    type: bun", "    entry_point: index.ts", ""].join("\n"));
    const result = await plugin(["validate", dir]);
    expect(result.code).toBe(2);
    const located = result.stderr.split("\n").filter((line) => /plugin\.yaml:\d+:\d+/.test(line));
    expect(located.map((line) => /plugin\.yaml:(\d+:\d+)/.exec(line)?.[1])).toEqual(["2:7", "5:9"]);
    expect(located.join("\n")).toContain("plugin.type");
  });

  test("a plugin missing a required setting passes with a note; a wrong --config fails", async () => {
    const dir = await scaffold("action");
    const manifest = join(dir, "plugin.yaml");
    writeFileSync(manifest, readFileSync(manifest, "utf8").replace("      default: Hello", "      required: true"));
    const noted = await plugin(["validate", dir]);
    expect(noted.code).toBe(0);
    expect(noted.stdout).toContain('note: its default configuration is incomplete (plugins.config.');
    const wrong = await plugin(["validate", dir, "--config", '{"greeting":5}']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("--config.greeting: expected a string");
  });

  test("an entry that exports no plugin, or throws at import, fails with exit 2 and the CLI survives it", async () => {
    for (const [name, code] of [
      ["no-export", "export const nothing = 1;\n"],
      ["throws", 'throw new Error("boom at import");\n'],
    ] as const) {
      const dir = join(work, `entry-${name}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "index.ts"), code);
      writeFileSync(join(dir, "plugin.yaml"), ["plugin:", `  id: ${name}`, `  name: ${name}`, '  version: "1.0.0"', "  type: action", "  runtime:", "    type: bun", "    entry_point: index.ts", ""].join("\n"));
      const result = await plugin(["validate", dir]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`${name} does not start`);
      expect(result.stderr).toContain(name === "throws" ? "boom at import" : "exports no plugin object");
    }
  });
});

describe("plugin run", () => {
  test("runs the built-in echo with --input and prints its result", async () => {
    const result = await plugin(["run", "echo", "--input", '{"message":"hi"}', "--config", '{"prefix":"re: "}']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: "completed", data: { message: "re: hi", parameters: { message: "hi" } } });
    expect(result.stderr).toContain("echo");
  });

  test("a failed action prints its result and exits 1; its log lines go to stderr", async () => {
    const dir = await scaffold("action", "python");
    const ok = await plugin(["run", dir, "--input", '{"name":"SRE"}']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ status: "completed", data: { message: "Hello, SRE!" } });
    expect(ok.stderr).toContain("greeting SRE");
    const failed = await plugin(["run", dir, "--input", "{}"]);
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.stdout)).toMatchObject({ status: "failed", error: { message: "parameter name: expected a non-empty string" } });
  });

  test.each(["bun", "python"])("a %s trigger with --once prints one event as a JSON line", async (runtime) => {
    const dir = await scaffold("trigger", runtime);
    const result = await plugin(["run", dir, "--once", "--config", '{"threshold":0}']);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ type: expect.stringMatching(/\.high$/), data: { threshold: 0 } });
  });

  test("an output sends --input as one batch", async () => {
    const dir = await scaffold("output");
    const result = await plugin(["run", dir, "--input", '[{"type":"a"},{"type":"b"}]']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ status: "sent", count: 2 });
    expect(result.stderr).toContain("count=2");
  });

  test("a trigger on an interval runs until Ctrl-C and exits 0", async () => {
    const dir = await scaffold("trigger");
    const base = join(work, "base-interval");
    const running = startProcess([process.execPath, cliEntry, "plugin", "run", dir, "--interval", "100ms", "--config", '{"threshold":0}', "--set", `agent.base_dir=${base}`], { cwd: work });
    // Two events: the loop goes on after the first.
    await running.waitFor(/"type":"[^"]+\.high"[\s\S]*"type":"[^"]+\.high"/);
    running.kill("SIGINT");
    expect(await running.exited).toBe(0);
  });

  test("bad flags are usage errors", async () => {
    expect((await plugin(["run", "echo", "--input", "{not json"])).code).toBe(2);
    expect((await plugin(["run", "echo", "--config", '{"prefix":5}'])).code).toBe(2);
    expect((await plugin(["run", "echo", "--timeout", "soon"])).code).toBe(2);
    expect((await plugin(["run", "./no-such-dir"])).code).toBe(2);
  });

  test("--config takes the agent's config file and the plugin's JSON together; mixed with -c it is refused", async () => {
    const file = join(work, "agent.yaml");
    writeFileSync(file, ["agent:", "  type: action", "  id: from-file", `  base_dir: ${join(work, "base-file")}`, "plugins:", "  config:", "    echo:", '      prefix: "file: "', ""].join("\n"));
    const fromFile = await runCli(["plugin", "run", "echo", "--config", file, "--input", '{"message":"m"}'], { cwd: work });
    expect(JSON.parse(fromFile.stdout)).toMatchObject({ data: { message: "file: m", agent: "from-file" } });
    const both = await runCli(["plugin", "run", "echo", "--config", file, "--config", '{"prefix":"json: "}', "--input", '{"message":"m"}'], { cwd: work });
    expect(JSON.parse(both.stdout)).toMatchObject({ data: { message: "json: m", agent: "from-file" } });
    const mixed = await runCli(["plugin", "run", "echo", "-c", file, "--config", '{"prefix":"json: "}'], { cwd: work });
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain("cannot be mixed");
  });
});

describe("plugin install, rollback, remove", () => {
  test("install from a folder; a bad update leaves the previous version current; rollback; remove", async () => {
    const base = join(work, "base-install");
    const dir = await scaffold("action", "bun", "greet");
    const manifest = join(dir, "plugin.yaml");
    const setVersion = (version: string, type = "action") =>
      writeFileSync(manifest, readFileSync(manifest, "utf8").replace(/version: "[^"]+"/, `version: "${version}"`).replace(/^  type: \w+$/m, `  type: ${type}`));
    const listed = async () => (JSON.parse((await plugin(["list", "--json"], base)).stdout) as { plugins: { id: string; version: string; previous?: string | null }[] }).plugins.find((p) => p.id === "greet");

    const first = await plugin(["install", dir], base);
    expect(first.stdout).toContain("ok: installed greet@0.1.0 (no previous version)");
    expect(first.code).toBe(0);
    expect(await listed()).toMatchObject({ version: "0.1.0" });

    setVersion("0.2.0");
    const second = await plugin(["install", dir], base);
    expect(second.stdout).toContain("ok: installed greet@0.2.0 (previous 0.1.0, kept for rollback)");

    setVersion("0.3.0", "actoin");
    const bad = await plugin(["install", dir], base);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/plugin\.yaml:\d+:\d+ plugin\.type/);
    expect(await listed()).toMatchObject({ version: "0.2.0", previous: "0.1.0" });

    const ran = await plugin(["run", "greet", "--input", '{"name":"ops"}'], base);
    expect(JSON.parse(ran.stdout)).toMatchObject({ data: { message: "Hello, ops!" } });

    const back = await plugin(["rollback", "greet"], base);
    expect(back.stdout).toContain("rolled back from 0.2.0 to 0.1.0");
    expect(await listed()).toMatchObject({ version: "0.1.0", previous: "0.2.0" });

    const removed = await plugin(["remove", "greet"], base);
    expect(removed.code).toBe(0);
    expect(await listed()).toBeUndefined();
    const again = await plugin(["remove", "greet"], base);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("not installed");
  });

  test("sources that cannot be installed are refused before anything is fetched", async () => {
    const url = await plugin(["install", "https://example.com/p.tgz"]);
    expect(url.code).toBe(2);
    expect(url.stderr).toContain("--sha256");
    const git = await plugin(["install", "https://example.com/p.git"]);
    expect(git.code).toBe(2);
    expect(git.stderr).toContain("--ref");
    const missing = await plugin(["install", join(work, "nothing-here")]);
    expect(missing.code).toBe(2);
    expect((await plugin(["rollback", "echo"])).stderr).toContain("built in");
  });
});
