import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { StavilyError } from "../../errors.ts";
import { assertPluginConfig, configJsonSchema, loadManifest, parseManifest, validatePluginConfig, type PluginManifest } from "./index.ts";

const manifest = parseManifest(
  `plugin:
  id: http-check
  name: HTTP check
  version: 0.3.0
  type: trigger
  runtime: { type: bun, entry_point: index.ts }
  configuration:
    url:
      type: string
      description: URL to probe
      required: true
      pattern: "^https?://"
    method:
      type: string
      default: GET
      enum: [GET, HEAD]
    threshold:
      type: number
      default: 80
      minimum: 0
      maximum: 100
    retries:
      type: integer
      minimum: 0
    headers:
      type: object
    expect:
      type: object
      properties:
        status: { type: integer, default: 200, minimum: 100, maximum: 599 }
        body: { type: string }
    tags:
      type: array
      default: [web]
      max_length: 3
      items: { type: string, pattern: "^[a-z]+$" }
`,
  "/plugins/http-check/plugin.yaml",
);

const where = "plugins.config.http-check";
const problems = (input: unknown, on: Pick<PluginManifest, "configuration"> = manifest) => {
  const result = validatePluginConfig(on, input, where);
  if (result.ok) throw new Error("expected the configuration to be refused");
  return result.problems.map((problem) => `${problem.path}: ${problem.message}`);
};

describe("validatePluginConfig", () => {
  test("defaults are applied, nested ones too, and each default is a fresh copy", () => {
    const first = validatePluginConfig(manifest, { url: "https://example.com" }, where);
    expect(first).toEqual({
      ok: true,
      config: { url: "https://example.com", method: "GET", threshold: 80, expect: { status: 200 }, tags: ["web"] },
    });
    if (first.ok) (first.config.tags as string[]).push("mutated");
    const second = validatePluginConfig(manifest, { url: "https://example.com" }, where);
    expect(second.ok && second.config.tags).toEqual(["web"]);
  });

  test("enum, minimum, maximum, integer, pattern and required are enforced, every problem at once", () => {
    expect(problems({ method: "POST", threshold: 150, retries: 1.5 })).toEqual([
      `${where}.url: missing required key "url"`,
      `${where}.method: expected one of "GET", "HEAD", got "POST"`,
      `${where}.threshold: expected a number ≤ 100, got 150`,
      `${where}.retries: expected an integer, got 1.5`,
    ]);
    expect(problems({ url: "ftp://example.com", threshold: -1, retries: "3" })).toEqual([
      `${where}.url: expected a string matching /^https?:///, got "ftp://example.com"`,
      `${where}.threshold: expected a number ≥ 0, got -1`,
      `${where}.retries: expected an integer, got "3"`,
    ]);
  });

  test("nested properties and list items are checked with their paths", () => {
    expect(problems({ url: "http://x", expect: { status: 999, bodyy: "ok" }, tags: ["ok", "Not-OK", "a", "b"] })).toEqual([
      `${where}.expect.status: expected an integer ≤ 599, got 999`,
      `${where}.expect.bodyy: unknown key (did you mean "body"?)`,
      `${where}.tags.1: expected a string matching /^[a-z]+$/, got "Not-OK"`,
      `${where}.tags: expected a list of at most 3 items, got 4`,
    ]);
  });

  test("unknown keys are errors with a did-you-mean; a free-form object takes any keys", () => {
    expect(problems({ url: "http://x", treshold: 5, headers: { "X-Any": 1 } })).toEqual([`${where}.treshold: unknown key (did you mean "threshold"?)`]);
  });

  test("no input is an empty configuration; a plugin declaring none accepts only {}", () => {
    expect(problems(undefined)).toEqual([`${where}.url: missing required key "url"`]);
    expect(validatePluginConfig({ configuration: {} }, undefined, "x")).toEqual({ ok: true, config: {} });
    expect(problems({ anything: 1 }, { configuration: {} })).toEqual([`${where}.anything: unknown key`]);
    expect(problems([1, 2])).toEqual([`${where}: expected a mapping of configuration fields, got a list`]);
  });

  test("the real cpu-monitor manifest refuses a threshold above 100", () => {
    const cpu = loadManifest(join(import.meta.dir, "testdata", "cpu-monitor"));
    expect(problems({ threshold: 150 }, cpu)).toEqual([`${where}.threshold: expected a number ≤ 100, got 150`]);
    expect(validatePluginConfig(cpu, {}, where)).toEqual({ ok: true, config: { threshold: 80, interval: 30 } });
  });

  test("assertPluginConfig throws one StavilyError listing each problem", () => {
    try {
      assertPluginConfig(manifest, { threshold: 150 }, "sensor.triggers.0.config");
      throw new Error("expected a refusal");
    } catch (error) {
      expect(error).toBeInstanceOf(StavilyError);
      expect(error).toMatchObject({ component: "plugin", exitCode: 2, message: "configuration of plugin http-check: 2 problems" });
      expect((error as StavilyError).details).toEqual([
        'sensor.triggers.0.config.url: missing required key "url"',
        "sensor.triggers.0.config.threshold: expected a number ≤ 100, got 150",
      ]);
    }
  });
});

describe("configJsonSchema", () => {
  test("describes every field with its type, bounds, enum, pattern and default; unknown keys refused", () => {
    const schema = configJsonSchema(manifest);
    expect(schema).toMatchObject({
      $schema: "http://json-schema.org/draft-07/schema#",
      title: "HTTP check 0.3.0 configuration",
      type: "object",
      required: ["url"],
      additionalProperties: false,
      properties: {
        // RegExp.source escapes "/"; the same pattern to any ECMAScript engine.
        url: { type: "string", pattern: "^https?:\\/\\/", description: "URL to probe" },
        method: { type: "string", enum: ["GET", "HEAD"], default: "GET" },
        threshold: { type: "number", minimum: 0, maximum: 100, default: 80 },
        retries: { type: "integer", minimum: 0 },
        headers: { type: "object", additionalProperties: {} },
        expect: { type: "object", additionalProperties: false, properties: { status: { type: "integer", default: 200 } } },
        tags: { type: "array", maxItems: 3, default: ["web"], items: { type: "string", pattern: "^[a-z]+$" } },
      },
    });
  });
});
