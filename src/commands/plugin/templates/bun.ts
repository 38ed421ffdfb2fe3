/**
 * The files of a bun scaffold. `stavily/sdk` is served by the agent at run time (no package to
 * install); for `bun test` the scaffold's testing.ts registers the same module and builds a fake ctx.
 */
import type { PluginKind } from "../../../core/plugin/types.ts";
import type { ScaffoldVars } from "./manifest.ts";

const INDEX: Record<PluginKind, string> = {
  trigger: `import { defineTrigger } from "stavily/sdk";

/** Reports an event when CPU usage (percent, all cores) reaches config.threshold. */
export default defineTrigger({
  async detect(ctx) {
    const threshold = Number(ctx.config.threshold);
    const { load } = await ctx.system.cpuLoad();
    ctx.logger.debug("sampled", { load, threshold });
    if (load < threshold) return null;
    return {
      type: "__ID__.high",
      severity: load >= 98 ? "high" : "medium",
      data: { load, threshold },
      dedupe_key: "__ID__",
    };
  },
});
`,
  action: `import { defineAction } from "stavily/sdk";

/** Greets request.parameters.name; throwing (or status "failed") fails the action. */
export default defineAction({
  execute(ctx, request) {
    const name = request.parameters.name;
    if (typeof name !== "string" || name === "") throw new Error("parameter name: expected a non-empty string");
    ctx.logger.info("greeting", { name });
    return { status: "completed", data: { message: String(ctx.config.greeting) + ", " + name + "!" } };
  },
});
`,
  output: `import { defineOutput } from "stavily/sdk";

/** POSTs each batch to config.url; a failed POST is retryable, so the agent sends the batch again. */
export default defineOutput({
  async send(ctx, batch) {
    const url = String(ctx.config.url ?? "");
    if (url === "") {
      ctx.logger.info("batch (no url set)", { count: batch.length });
      return;
    }
    const response = await ctx.fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(batch), signal: ctx.signal });
    if (!response.ok) throw ctx.retryable(new Error("POST " + url + ": " + response.status));
  },
});
`,
};

const TEST: Record<PluginKind, string> = {
  trigger: `import { expect, test } from "bun:test";
import { fakeContext } from "./testing.ts";
import plugin from "./index.ts";

test("reports an event at the threshold, nothing below it", async () => {
  const busy = fakeContext({ threshold: 90 }, { cpuLoad: async () => ({ load: 95, cores: [] }) });
  expect(await plugin.detect!(busy)).toMatchObject({ type: "__ID__.high", severity: "medium", data: { load: 95, threshold: 90 } });

  const idle = fakeContext({ threshold: 90 }, { cpuLoad: async () => ({ load: 12, cores: [] }) });
  expect(await plugin.detect!(idle)).toBeNull();
});
`,
  action: `import { expect, test } from "bun:test";
import { fakeContext, request } from "./testing.ts";
import plugin from "./index.ts";

test("greets the name it is given and logs it", async () => {
  const ctx = fakeContext({ greeting: "Hello" });
  const result = await plugin.execute(ctx, request({ name: "SRE" }), ctx.signal);
  expect(result).toEqual({ status: "completed", data: { message: "Hello, SRE!" } });
  expect(ctx.lines).toEqual([{ level: "info", msg: "greeting", fields: { name: "SRE" } }]);
});

test("refuses a request without a name", () => {
  const ctx = fakeContext({ greeting: "Hello" });
  expect(() => plugin.execute(ctx, request({}), ctx.signal)).toThrow("parameter name");
});
`,
  output: `import { expect, test } from "bun:test";
import { fakeContext } from "./testing.ts";
import plugin from "./index.ts";

test("posts the batch as JSON", async () => {
  const posted: unknown[] = [];
  const ctx = fakeContext({ url: "https://collector.example/ingest" });
  ctx.fetch = (async (_url: string, init: RequestInit) => {
    posted.push(JSON.parse(String(init.body)));
    return new Response(null, { status: 204 });
  }) as unknown as typeof fetch;
  await plugin.send(ctx, [{ type: "demo" }]);
  expect(posted).toEqual([[{ type: "demo" }]]);
});

test("a failed POST is retryable", async () => {
  const ctx = fakeContext({ url: "https://collector.example/ingest" });
  ctx.fetch = (async () => new Response(null, { status: 503 })) as unknown as typeof fetch;
  await expect(plugin.send(ctx, [])).rejects.toMatchObject({ retryable: true });
});
`,
};

/** Preloaded by bunfig.toml: the stavily/sdk module the agent provides, and a ctx for tests. */
const TESTING = `/**
 * Test support: the agent serves the \`stavily/sdk\` module to plugins at run time; under \`bun test\`
 * this file (preloaded by bunfig.toml) registers the same helpers. fakeContext() is a ctx whose log
 * lines are kept in \`lines\`; override what a test needs (ctx.fetch, ctx.system, ctx.exec).
 */
import { plugin as register } from "bun";

function retryable(error: unknown) {
  const target = typeof error === "object" && error !== null ? error : new Error(String(error));
  (target as { retryable?: boolean }).retryable = true;
  return target;
}

const identity = <T>(value: T) => value;
const sdk = { defineTrigger: identity, defineAction: identity, defineOutput: identity, retryable };
register({
  name: "stavily-sdk",
  setup(build) {
    for (const specifier of ["stavily/sdk", "@stavily/sdk"]) build.module(specifier, () => ({ loader: "object", exports: sdk }));
  },
});

export interface LogLine {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

const denied = (what: string) => () => {
  throw Object.assign(new Error(what + " is not available in this test; set it on the ctx"), { code: "permission_denied" });
};

export function fakeContext(config: Record<string, unknown> = {}, system: Record<string, unknown> = {}) {
  const lines: LogLine[] = [];
  const log = (level: string) => (msg: string, fields?: Record<string, unknown> | Error) =>
    void lines.push(fields === undefined ? { level, msg } : { level, msg, fields: fields instanceof Error ? { error: fields.message } : fields });
  const state = new Map<string, unknown>();
  return {
    lines,
    logger: { trace: log("trace"), debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") },
    config,
    agent: { id: "test-agent", type: "sensor" as const, name: "test-agent", environment: "test", tags: [] },
    workDir: process.cwd(),
    signal: new AbortController().signal,
    exec: denied("ctx.exec") as any,
    fetch: denied("ctx.fetch") as any,
    fs: { readText: denied("ctx.fs"), writeText: denied("ctx.fs"), list: denied("ctx.fs"), stat: denied("ctx.fs") } as any,
    system: { cpuLoad: denied("ctx.system.cpuLoad"), memory: denied("ctx.system.memory"), disks: denied("ctx.system.disks"), processes: denied("ctx.system.processes"), network: denied("ctx.system.network"), ...system } as any,
    state: {
      get: (key: string) => state.get(key) as any,
      set: (key: string, value: unknown) => void state.set(key, value),
      delete: (key: string) => state.delete(key),
      keys: () => [...state.keys()],
    },
    retryable: retryable as any,
  };
}

/** An action request as the agent builds it from an instruction. */
export function request(parameters: Record<string, unknown>) {
  return { id: "req-test", type: "__ID__", parameters, context: {}, variables: {}, timeout: 30, metadata: {} };
}
`;

const BUNFIG = `# stavily/sdk for \`bun test\` (the agent provides it at run time): see testing.ts.
[test]
preload = ["./testing.ts"]
`;

export function bunFiles(vars: ScaffoldVars): Record<string, string> {
  const fill = (text: string) => text.replaceAll("__ID__", vars.id);
  return { "index.ts": fill(INDEX[vars.kind]), "index.test.ts": fill(TEST[vars.kind]), "testing.ts": fill(TESTING), "bunfig.toml": BUNFIG };
}
