import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StavilyError } from "../errors.ts";
import { defaultAgentId, loadConfig, type LoadOptions } from "./index.ts";

const dir = mkdtempSync(join(tmpdir(), "stavily-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
function write(text: string): string {
  const file = join(dir, `config-${++counter}.yaml`);
  writeFileSync(file, text);
  return file;
}

/** Loads with a clean environment so the machine's own STAVILY_* variables cannot leak in. */
function load(text: string | undefined, options: LoadOptions = {}) {
  return loadConfig({ cwd: dir, env: {}, hostname: "Web-01.example.com", ...options, configFile: text === undefined ? undefined : write(text) });
}

function problems(text: string | undefined, options: LoadOptions = {}): string[] {
  try {
    load(text, options);
  } catch (error) {
    expect(error).toBeInstanceOf(StavilyError);
    expect((error as StavilyError).exitCode).toBe(2);
    return (error as StavilyError).details;
  }
  throw new Error("expected the config to be refused");
}

describe("defaults", () => {
  test("an empty file with --type gets every default, with derived values filled in", () => {
    const { config } = load("", { type: "action" });
    expect(config.agent.id).toBe("action-web-01.example.com");
    expect(config.agent.name).toBe(config.agent.id);
    expect(config.api.timeout).toBe(30_000);
    expect(config.logging.max_size).toBe(100_000_000);
    expect(config.action.max_concurrent_tasks).toBe(config.agent.max_concurrent_tasks);
    expect(config.action.task_timeout).toBe(300_000);
    expect(config.api.user_agent).toMatch(/^stavily-agent\/\S+ \(action; \w+\/\w+\)$/);
    const home = join(config.agent.base_dir, `agent-${config.agent.id}`);
    expect(config.logging.file).toBe(join(home, "logs", "action.log"));
    expect(config.security.audit.log_file).toBe(join(home, "logs", "audit", "audit.log"));
    expect(config.plugins.directory).toBe(join(home, "data", "plugins"));
  });

  test("the agent type is required from the file or --type", () => {
    expect(problems("agent: {}")).toEqual([expect.stringContaining("agent.type: missing: set agent.type in the config or pass --type sensor|action")]);
  });

  test("--type disagreeing with the file is a problem at agent.type", () => {
    const found = problems("agent:\n  type: sensor\n", { type: "action" });
    expect(found).toEqual([expect.stringMatching(/config-\d+\.yaml:2:9 agent\.type: the config is for a sensor agent, but --type says action/)]);
  });

  test("default ids are normalised from odd hostnames", () => {
    expect(defaultAgentId("sensor", "My_Host (1)")).toBe("sensor-my_host-1");
    expect(defaultAgentId("action", "x".repeat(100))).toHaveLength(63);
  });
});

describe("problems are all reported with file:line:column", () => {
  test("three mistakes, three lines", () => {
    const found = problems(
      ["agent:", "  type: action", "api:", "  timeout: thirty", "  retry_attemps: 5", "logging:", "  level: loud", ""].join("\n"),
    );
    expect(found).toHaveLength(3);
    expect(found[0]).toMatch(/config-\d+\.yaml:4:12 api\.timeout: expected a duration like "30s", "5m", "1h30m" or a number of seconds, got "thirty"$/);
    expect(found[1]).toMatch(/config-\d+\.yaml:5:3 api\.retry_attemps: unknown key \(did you mean "retry_attempts"\?\)$/);
    expect(found[2]).toMatch(/config-\d+\.yaml:7:10 logging\.level: expected one of "trace", "debug", "info", "warn", "error", "fatal", "silent", got "loud"$/);
  });

  test("an unknown section suggests the closest one", () => {
    expect(problems("agent: {type: sensor}\nloging:\n  level: info\n")).toEqual([expect.stringMatching(/:2:1 loging: unknown key \(did you mean "logging"\?\)$/)]);
  });

  test("a bare number where a long duration is expected says it was read as seconds", () => {
    expect(problems("agent: {type: sensor}\nlogging:\n  max_age: 30\n")).toEqual([
      expect.stringMatching(/:3:12 logging\.max_age: expected a duration of at least 1h, or 0 to disable \(a bare number is seconds\), got 30$/),
    ]);
  });

  test("wrong types inside lists point at the item", () => {
    const found = problems("agent: {type: sensor}\nsensor:\n  triggers:\n    - plugin: cpu-monitor\n      severity: urgent\n    - id: x\n");
    expect(found).toEqual([
      expect.stringMatching(/:5:17 sensor\.triggers\.0\.severity: expected one of "low", "medium", "high", "critical", got "urgent"$/),
      expect.stringMatching(/:6:7 sensor\.triggers\.1\.plugin: missing required key "plugin"$/),
    ]);
  });

  test("invalid YAML reports the parser's position", () => {
    const found = problems("agent:\n  type: action\n api: [\n");
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]).toMatch(/config-\d+\.yaml:\d+:\d+ invalid YAML: /);
  });

  test("duplicate keys are refused, not silently merged", () => {
    expect(problems("agent:\n  type: action\n  type: sensor\n")[0]).toMatch(/:3:3 invalid YAML: Map keys must be unique/);
  });

  test("a file that is not a mapping", () => {
    expect(problems("- just\n- a list\n")).toEqual([expect.stringMatching(/:1:1 expected a mapping of sections/)]);
  });

  test("two triggers with the same id", () => {
    expect(problems("agent: {type: sensor}\nsensor:\n  triggers:\n    - plugin: cpu-monitor\n    - plugin: cpu-monitor\n")).toEqual([
      expect.stringMatching(/:5:7 sensor\.triggers\.1\.id: trigger id "cpu-monitor" is used twice/),
    ]);
  });

  test("a missing named file is a usage error naming it", () => {
    expect(() => loadConfig({ configFile: join(dir, "nope.yaml"), env: {} })).toThrow(/config file .*nope\.yaml \(from --config\) does not exist/);
  });
});

describe("sources: flags > environment > file > defaults", () => {
  const file = "agent:\n  type: action\napi:\n  base_url: https://file.example.com\n  timeout: 10s\n";

  test("environment overrides the file, flags override the environment", () => {
    const env = { STAVILY_API_BASE_URL: "https://env.example.com", STAVILY_API_TIMEOUT: "20s", STAVILY_LOGGING_LEVEL: "debug" };
    const { config } = load(file, { env, set: ["api.timeout=45s"] });
    expect(config.api.base_url).toBe("https://env.example.com");
    expect(config.api.timeout).toBe(45_000);
    expect(config.logging.level).toBe("debug");
  });

  test("environment values are coerced to each key's kind", () => {
    const env = { STAVILY_API_RETRY_ATTEMPTS: "7", STAVILY_SECURITY_TLS_ENABLED: "true", STAVILY_AGENT_TAGS: "a:1, b:2" };
    const { config } = load(file, { env });
    expect(config.api.retry_attempts).toBe(7);
    expect(config.security.tls.enabled).toBe(true);
    expect(config.agent.tags).toEqual(["a:1", "b:2"]);
  });

  test("a bad environment value is reported against the variable", () => {
    expect(problems(file, { env: { STAVILY_API_RETRY_ATTEMPTS: "many" } })).toEqual([
      'env STAVILY_API_RETRY_ATTEMPTS api.retry_attempts: expected a number, got "many"',
    ]);
  });

  test("an unknown STAVILY_ variable is a warning with a suggestion", () => {
    const { warnings } = load(file, { env: { STAVILY_API_BASEURL: "x" } });
    expect(warnings).toEqual([expect.stringContaining('STAVILY_API_BASEURL is not a config key and is ignored (did you mean "STAVILY_API_BASE_URL"?)')]);
  });

  test("--set with an unknown key or no value is refused", () => {
    expect(problems(file, { set: ["api.timout=5s", "novalue"] })).toEqual([
      '--set api.timout=5s unknown config key "api.timout" (did you mean "api.timeout"?)',
      "--set novalue expected key.path=value",
    ]);
  });

  test("STAVILY_AGENT_TOKEN fills the api key only when nothing else set it", () => {
    expect(load(file, { env: { STAVILY_AGENT_TOKEN: "from-env-token" } }).config.security.auth.api_key).toBe("from-env-token");
    const withKey = `${file}security:\n  auth:\n    api_key: from-file-token\n`;
    expect(load(withKey, { env: { STAVILY_AGENT_TOKEN: "from-env-token" } }).config.security.auth.api_key).toBe("from-file-token");
  });

  test("STAVILY_CONFIG names the file when --config does not", () => {
    const named = write("agent:\n  type: sensor\n  id: from-env-config\n");
    expect(loadConfig({ env: { STAVILY_CONFIG: named }, cwd: dir }).config.agent.id).toBe("from-env-config");
  });
});

describe("${VAR} references in the file", () => {
  test("set, defaulted, escaped, and typed by how they were written", () => {
    const text = 'agent:\n  type: action\n  region: ${REGION}\n  environment: "${ENVIRONMENT:-staging}"\napi:\n  retry_attempts: ${RETRIES}\n  user_agent: "cost $$5"\n';
    const { config } = load(text, { env: { REGION: "eu-west-1", RETRIES: "6" } });
    expect(config.agent.region).toBe("eu-west-1");
    expect(config.agent.environment).toBe("staging");
    expect(config.api.retry_attempts).toBe(6);
    expect(config.api.user_agent).toBe("cost $5");
  });

  test("an unset variable without a default is a problem at its line", () => {
    expect(problems("agent:\n  type: action\napi:\n  base_url: ${ORCH_URL}\n")).toEqual([
      expect.stringMatching(/:4:13 environment variable ORCH_URL is not set/),
    ]);
  });
});
