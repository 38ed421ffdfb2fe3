import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot, runCli } from "../support/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "stavily-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const THREE_MISTAKES = ["agent:", "  type: action", "api:", "  timeout: thirty", "  retry_attemps: 5", "logging:", "  level: loud", ""].join("\n");

describe("stavily version", () => {
  test("prints version, commit, build date, Bun version and target", async () => {
    const { code, stdout } = await runCli(["version"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^stavily \d+\.\d+\.\d+/);
    for (const field of ["commit:", "built:", "bun:", "target:"]) expect(stdout).toContain(field);
    expect(stdout).toContain(Bun.version);
  });

  test("--json", async () => {
    const { code, stdout } = await runCli(["version", "--json"]);
    expect(code).toBe(0);
    expect(Object.keys(JSON.parse(stdout))).toEqual(expect.arrayContaining(["version", "commit", "buildDate", "bunVersion", "target"]));
  });
});

describe("stavily config validate", () => {
  test.each(readdirSync(join(repoRoot, "deployments", "config")).filter((name) => name.endsWith(".yaml")))(
    "the example %s is valid",
    async (name) => {
      const { code, stdout, stderr } = await runCli(["config", "validate", "-c", join(repoRoot, "deployments", "config", name)]);
      expect(stderr).toBe("");
      expect(code).toBe(0);
      expect(stdout).toMatch(/^ok: .* is valid for (sensor|action) agent/);
    },
  );

  test("three mistakes: all three reported with line:column, exit 2, no stack trace", async () => {
    const path = file("three.yaml", THREE_MISTAKES);
    const { code, stdout, stderr } = await runCli(["config", "validate", "-c", path]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    const lines = stderr.trimEnd().split("\n");
    expect(lines[0]).toBe(`stavily: ${path}: 3 problems`);
    expect(lines.slice(1)).toEqual([
      `  ${path}:4:12 api.timeout: expected a duration like "30s", "5m", "1h30m" or a number of seconds, got "thirty"`,
      `  ${path}:5:3 api.retry_attemps: unknown key (did you mean "retry_attempts"?)`,
      `  ${path}:7:10 logging.level: expected one of "trace", "debug", "info", "warn", "error", "fatal", "silent", got "loud"`,
    ]);
    expect(stderr).not.toContain("    at ");
  });

  test("--debug adds the stack trace", async () => {
    const { code, stderr } = await runCli(["config", "validate", "-c", file("debug.yaml", THREE_MISTAKES), "--debug"]);
    expect(code).toBe(2);
    expect(stderr).toContain("    at ");
  });

  test("a relative path is reported as written from the working directory", async () => {
    file("rel.yaml", "agent:\n  type: sideways\n");
    const { code, stderr } = await runCli(["config", "validate", "-c", "rel.yaml"], { cwd: dir });
    expect(code).toBe(2);
    expect(stderr).toContain('  rel.yaml:2:9 agent.type: expected one of "sensor", "action", got "sideways"');
  });

  test("--type must be sensor or action", async () => {
    const { code, stderr } = await runCli(["config", "validate", "--type", "both"], { cwd: dir });
    expect(code).toBe(2);
    expect(stderr).toBe('stavily: --type: expected sensor or action, got "both"\n');
  });

  test("./stavily.yaml is found without --config", async () => {
    const cwd = mkdtempSync(join(dir, "cwd-"));
    writeFileSync(join(cwd, "stavily.yaml"), "agent:\n  type: sensor\n  id: found-in-cwd\n");
    const { code, stdout } = await runCli(["config", "validate"], { cwd });
    expect(code).toBe(0);
    expect(stdout).toContain('sensor agent "found-in-cwd"');
  });

  test("a missing --config file is a usage error", async () => {
    const { code, stderr } = await runCli(["config", "validate", "-c", join(dir, "missing.yaml")]);
    expect(code).toBe(2);
    expect(stderr).toContain("missing.yaml (from --config) does not exist");
  });
});

describe("stavily config print", () => {
  const base = file("print.yaml", "agent:\n  type: action\n  id: printer\napi:\n  base_url: https://file.example.com\n  timeout: 10s\nsecurity:\n  auth:\n    api_key: file-secret-token-123\n");

  test("STAVILY_API_BASE_URL overrides the file, and the token is redacted", async () => {
    const { code, stdout } = await runCli(["config", "print", "-c", base], { env: { STAVILY_API_BASE_URL: "https://env.example.com" } });
    expect(code).toBe(0);
    expect(stdout).toContain("base_url: https://env.example.com");
    expect(stdout).toContain("timeout: 10s");
    expect(stdout).toContain('api_key: "[REDACTED]"');
    expect(stdout).not.toContain("file-secret-token-123");
  });

  test("STAVILY_AGENT_TOKEN never reaches the output", async () => {
    const { code, stdout } = await runCli(["config", "print", "--type", "sensor", "--format", "json"], {
      cwd: dir,
      env: { STAVILY_AGENT_TOKEN: "env-secret-token-456" },
    });
    expect(code).toBe(0);
    expect(stdout).not.toContain("env-secret-token-456");
    expect(JSON.parse(stdout).security.auth.api_key).toBe("[REDACTED]");
  });

  test("--set beats the environment", async () => {
    const { stdout } = await runCli(["config", "print", "-c", base, "--set", "api.timeout=1m", "--set", "logging.level=debug"], {
      env: { STAVILY_API_TIMEOUT: "5s" },
    });
    expect(stdout).toContain("timeout: 1m");
    expect(stdout).toContain("level: debug");
  });

  test("--format must be yaml or json", async () => {
    const { code, stderr } = await runCli(["config", "print", "-c", base, "--format", "xml"]);
    expect(code).toBe(2);
    expect(stderr).toBe('stavily: --format: expected yaml or json, got "xml"\n');
  });
});

describe("stavily config schema", () => {
  test("prints a JSON Schema with every section, strict about unknown keys", async () => {
    const { code, stdout } = await runCli(["config", "schema"]);
    expect(code).toBe(0);
    const schema = JSON.parse(stdout);
    expect(schema.$schema).toContain("json-schema.org");
    expect(Object.keys(schema.properties)).toEqual(["agent", "api", "security", "logging", "health", "metrics", "debug", "plugins", "sensor", "action"]);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.api.properties.timeout.description).toContain("default 30s");
  });
});

describe("usage", () => {
  test.each([
    [["frob"], 'stavily: unknown command "frob"'],
    [["config"], "Usage: stavily config <command>"],
    [["config", "frob"], 'stavily: unknown command "config frob"'],
    [["config", "validate", "--bogus"], "Unknown option `--bogus`"],
    [[], "Usage:"],
  ])("stavily %p exits 2", async (args, message) => {
    const { code, stdout, stderr } = await runCli(args);
    expect(code).toBe(2);
    expect(stdout + stderr).toContain(message);
  });

  test.each(["version", "config validate", "config print", "config schema", "home init"])(
    "stavily %s --help shows usage and examples",
    async (command) => {
      const { code, stdout } = await runCli([...command.split(" "), "--help"]);
      expect(code).toBe(0);
      expect(stdout).toContain(`$ stavily ${command}`);
      expect(stdout).toContain("Examples:");
    },
  );
});
