/** What the action agent records as it works: instructions through their plugins, and plugin reloads. */
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { handleInstruction } from "../../action/instruction.ts";
import type { RuntimeContext } from "../agent/index.ts";
import { json, makeClient, makeConfig, startServer, type TestServer } from "../api/_testkit.ts";
import { prepareAgentHome } from "../home/index.ts";
import { createPluginHost, type PluginHost } from "../plugin/host.ts";
import type { Instruction } from "../protocol/index.ts";
import { openJournal, type Journal } from "../spool/index.ts";
import { StavilyError } from "../errors.ts";
import { auditOptions, readLines, tempDirs } from "./_testkit.ts";
import { createAuditLog, verifyAudit, type AuditLog, type AuditRecord } from "./index.ts";

const temp = tempDirs();
let server: TestServer | undefined;
let host: PluginHost | undefined;
let journal: Journal | undefined;
afterEach(async () => {
  await host?.stopAll();
  journal?.close();
  server?.stop();
  temp.cleanup();
});

const TEST_PLUGINS = join(import.meta.dir, "..", "..", "action", "testdata", "plugins");

function instruction(extra: Partial<Instruction> = {}): Instruction {
  return { id: "i-1", plugin_id: "echo", instruction_type: "execute", plugin_configuration: {}, input_data: {}, timeout_seconds: 0, max_retries: 0, retry_count: 0, priority: "normal", ...extra };
}

async function setup(audit: AuditLog): Promise<RuntimeContext> {
  server = startServer((request) => (request.method === "PUT" ? json({ success: true, instruction_id: "i-1", updated_fields: ["status"] }) : json({ acknowledged: true, next_instruction: null })));
  const base = temp.make();
  const config = makeConfig(base, server.url, ["api.retry_attempts=0", `plugins.directory=${TEST_PLUGINS}`]);
  const { client, logger } = makeClient(config);
  const home = prepareAgentHome(base, "agent-1");
  host = await createPluginHost({ config, home, logger, audit });
  journal = openJournal(join(home.state, "journal.db"));
  return { config: () => config, api: client, logger, home, stop: new AbortController().signal, abort: new AbortController().signal, audit };
}

const run = (item: Instruction, context: RuntimeContext, audit: AuditLog) =>
  handleInstruction({ instruction: item, cancel: new AbortController().signal }, { context, plugins: host!, journal: journal!, audit });

const records = (dir: string) => readLines(join(dir, "audit.log")).map((line) => JSON.parse(line) as AuditRecord);

describe("audit records of the action agent", () => {
  test("an instruction: received (parameters redacted), started, finished", async () => {
    const dir = temp.make();
    const audit = createAuditLog(auditOptions(dir, { agent_id: "agent-1" }));
    const context = await setup(audit);
    await run(instruction({ input_data: { message: "hi", password: "hunter2-secret" }, correlation_id: "c-9" }), context, audit);
    await audit.close();
    const written = records(dir);
    expect(written.map((record) => record.event)).toEqual(["instruction.received", "instruction.started", "instruction.finished"]);
    expect(written[0]!.fields).toMatchObject({ instruction_id: "i-1", plugin_id: "echo", type: "execute", correlation_id: "c-9", input_data: { message: "hi", password: "[REDACTED]" } });
    expect(written[1]!.fields).toMatchObject({ instruction_id: "i-1", attempt: 0 });
    expect(written[2]!.fields).toMatchObject({ instruction_id: "i-1", status: "completed" });
    expect(readLines(join(dir, "audit.log")).join("\n")).not.toContain("hunter2-secret");
    expect(verifyAudit(dir)).toMatchObject({ ok: true, records: 3 });
  });

  test("each retry is a start of its own", async () => {
    const dir = temp.make();
    const audit = createAuditLog(auditOptions(dir));
    const context = await setup(audit);
    await run(instruction({ plugin_id: "flaky", max_retries: 3, input_data: { failures: 1 } }), context, audit);
    await audit.close();
    const starts = records(dir).filter((record) => record.event === "instruction.started");
    expect(starts.map((record) => record.fields.attempt)).toEqual([0, 1]);
    expect(records(dir).at(-1)!.fields).toMatchObject({ status: "completed", retry_count: 1 });
  }, 30_000);

  test("an instruction that cannot be recorded is not run", async () => {
    const failing: AuditLog = {
      enabled: true,
      record() {
        throw new StavilyError("audit", "cannot write the audit record: disk full");
      },
      close: async () => {},
    };
    const context = await setup(failing);
    await run(instruction(), context, failing);
    // Never marked executing: the plugin did not run.
    expect(server!.hits.some((hit) => hit.method === "PUT")).toBe(false);
    const result = JSON.parse(server!.hits.find((hit) => hit.path.endsWith("/result"))!.body);
    expect(result).toMatchObject({ status: "failed", error_message: "not run: cannot write the audit record: disk full", error_details: { reason: "audit_failed" } });
  });

  test("a plugin reload", async () => {
    const dir = temp.make();
    const audit = createAuditLog(auditOptions(dir));
    await setup(audit);
    await host!.instance("echo");
    await host!.replace("echo");
    await audit.close();
    expect(records(dir).map((record) => [record.event, record.fields])).toEqual([["plugin.reload", { plugin: "echo", version: expect.any(String), retired_instances: 1 }]]);
  });
});
