import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestbed, heartbeatBody, newInstruction } from "../_testkit.ts";
import { MIGRATIONS } from "./_migrations.ts";
import { openDatabase, resolveDbPath } from "./open.ts";

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "stavily-db-"));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("openDatabase", () => {
  test("resolves a relative path against cwd, uses WAL and records the schema version", () => {
    const dir = tempDir();
    expect(resolveDbPath("x.db", dir)).toBe(join(dir, "x.db"));
    expect(resolveDbPath(":memory:", dir)).toBe(":memory:");
    const db = openDatabase("x.db", dir);
    expect(db.filename).toBe(join(dir, "x.db"));
    expect(db.query<{ journal_mode: string }, []>("PRAGMA journal_mode").get()?.journal_mode).toBe("wal");
    expect(db.query<{ user_version: number }, []>("PRAGMA user_version").get()?.user_version).toBe(MIGRATIONS.length);
    db.close();
    // Reopening an up-to-date file changes nothing.
    openDatabase(join(dir, "x.db")).close();
  });

  test("refuses a database written by a newer stavily", () => {
    const dir = tempDir();
    const db = openDatabase("x.db", dir);
    db.run(`PRAGMA user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => openDatabase("x.db", dir)).toThrow(/newer than this stavily/);
  });

  test(":memory: works", () => {
    const db = openDatabase(":memory:");
    expect(db.query<{ n: number }, []>("SELECT count(*) AS n FROM instructions").get()?.n).toBe(0);
    db.close();
  });
});

describe("restart", () => {
  test("agents, tokens, instructions, events and rules survive closing and reopening the file", async () => {
    const dir = tempDir();
    const first = createTestbed({}, dir);
    await first.agent("agent-1", "POST", "/heartbeat", heartbeatBody());
    const token = (await first.admin("POST", "/agents/agent-7/token")).body.token as string;
    const created = await first.admin("POST", "/instructions", newInstruction("agent-1"), { "idempotency-key": "k" });
    await first.agent("agent-1", "GET", "/instructions");
    await first.agent("agent-1", "PUT", `/instructions/${created.body.id}`, { status: "executing", execution_log: ["one"] });
    await first.agent("agent-1", "POST", "/events", { events: [{ id: "e1", type: "t", source: "s", timestamp: new Date().toISOString() }] }, { "idempotency-key": "b" });
    await first.admin("POST", "/rules", { match: { type: "t" }, action: { agent_id: "agent-2", plugin_id: "p", instruction_type: "execute" } });
    first.close(true);

    const second = createTestbed({ tokens: {} }, dir);
    try {
      expect((await second.admin("GET", `/instructions/${created.body.id}`)).body).toMatchObject({ status: "executing", execution_log: ["one"] });
      expect((await second.admin("POST", "/instructions", newInstruction("agent-1"), { "idempotency-key": "k" })).status).toBe(200);
      expect((await second.admin("GET", "/agents")).body.agents.map((a: { id: string }) => a.id)).toEqual(["agent-1", "agent-2", "agent-7"]);
      expect((await second.send(token, "GET", "/agents/v1/agent-7/instructions")).status).toBe(200);
      // Tokens from the first start's file are still in the database.
      expect((await second.agent("agent-1", "POST", "/heartbeat", heartbeatBody())).status).toBe(200);
      expect((await second.admin("GET", "/events")).body.events).toHaveLength(1);
      expect((await second.agent("agent-1", "POST", "/events", { events: [] }, { "idempotency-key": "b" })).body).toEqual({ accepted: 1 });
      expect((await second.admin("GET", "/rules")).body.rules).toHaveLength(1);
    } finally {
      second.close();
    }
  });
});
