import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { EXIT, StavilyError } from "../errors.ts";
import { acquireHomeLock, type AgentHome, type HomeLock, prepareAgentHome } from "./index.ts";
import { startAgent, type TestAgent, tryAgent, writeHolderScript } from "./_testkit.ts";

const ISO = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`;
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

let base: string;
let script: string;
let home: AgentHome;
const agents: TestAgent[] = [];
const locks: HomeLock[] = [];

function hold(agentId = "a1"): TestAgent {
  const agent = startAgent(script, base, agentId, "hold");
  agents.push(agent);
  return agent;
}

function acquire(agentId = "a1"): HomeLock {
  const lock = acquireHomeLock(prepareAgentHome(base, agentId), agentId);
  locks.push(lock);
  return lock;
}

beforeEach(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), "stavily-lock-"));
  script = writeHolderScript(base);
  home = prepareAgentHome(base, "a1");
});

afterEach(async () => {
  for (const lock of locks.splice(0)) lock.release();
  for (const agent of agents.splice(0)) {
    agent.proc.kill(9);
    await agent.proc.exited;
  }
  fs.rmSync(base, { recursive: true, force: true });
});

describe("acquireHomeLock across processes", () => {
  test("a second agent with the same id is refused, naming the running one", async () => {
    const first = hold();
    expect(await first.next()).toMatchObject({ event: "locked", takenOver: false });

    const second = await tryAgent(script, base, "a1");
    expect(second).toMatchObject({ event: "refused", component: "home", exitCode: EXIT.failure });
    const running = `agent a1 is already running \\(pid ${first.pid}, started ${ISO}\\)`;
    expect(String(second.message)).toMatch(new RegExp(`^${running} with home ${escape(home.root)}$`));

    const refusal = (() => {
      try {
        acquire();
      } catch (error) {
        return error;
      }
    })();
    expect(refusal).toBeInstanceOf(StavilyError);
    expect(refusal).toMatchObject({ component: "home", exitCode: EXIT.failure });
  });

  test("the lock of a holder killed with SIGKILL is taken over at once", async () => {
    const first = hold();
    await first.next();
    first.proc.kill(9);
    await first.proc.exited;

    const lock = acquire();
    expect(lock.takenOver).toBe(true);
    expect(lock.previous).toMatchObject({ pid: first.pid, hostname: os.hostname() });
  });

  test("release() lets another agent take the home, which then reports no takeover", async () => {
    const first = hold();
    await first.next();
    first.send("release");
    expect(await first.next()).toMatchObject({ event: "released" });
    expect(fs.existsSync(path.join(home.root, "agent.pid"))).toBe(false);

    expect(await tryAgent(script, base, "a1")).toMatchObject({ event: "locked", takenOver: false });
    // That agent exited normally, so it released on the way out.
    expect(acquire().takenOver).toBe(false);
  });

  test("agents with different ids run side by side without sharing a file", async () => {
    const a = hold("a1");
    const b = hold("b2");
    expect(await a.next()).toMatchObject({ event: "locked" });
    expect(await b.next()).toMatchObject({ event: "locked" });
    const record = (id: string) => JSON.parse(fs.readFileSync(path.join(base, `agent-${id}`, "agent.pid"), "utf8"));
    expect(record("a1").pid).toBe(a.pid);
    expect(record("b2").pid).toBe(b.pid);
  });

  test("a refusal in the instant before the holder writes its record says the pid is unknown", async () => {
    const first = hold();
    await first.next();
    fs.rmSync(path.join(home.root, "agent.pid"));
    const second = await tryAgent(script, base, "a1");
    expect(second.message).toBe(`agent a1 is already running (pid unknown) with home ${home.root}`);
  });
});

describe("acquireHomeLock without a live holder", () => {
  test("a record left before a reboot is taken over even if its pid now belongs to a live process", () => {
    // pid 1 is always alive: exactly the reused-pid case a pid-file check would get wrong.
    const stale = { pid: 1, hostname: os.hostname(), startedAt: "2020-01-01T00:00:00.000Z" };
    fs.writeFileSync(path.join(home.root, "agent.pid"), JSON.stringify(stale));
    const lock = acquire();
    expect(lock.takenOver).toBe(true);
    expect(lock.previous).toEqual(stale);
    const now = JSON.parse(fs.readFileSync(path.join(home.root, "agent.pid"), "utf8"));
    expect(now.pid).toBe(process.pid);
  });

  test("an unreadable record still counts as a takeover", () => {
    fs.writeFileSync(path.join(home.root, "agent.pid"), "garbage");
    const lock = acquire();
    expect(lock.takenOver).toBe(true);
    expect(lock.previous).toBeUndefined();
  });

  test("release() is idempotent and removes the record", () => {
    const lock = acquire();
    lock.release();
    lock.release();
    expect(fs.existsSync(path.join(home.root, "agent.pid"))).toBe(false);
  });
});

describe("acquireHomeLock within one process", () => {
  test("a second acquire is refused and does not weaken the first", async () => {
    const lock = acquire();
    expect(() => acquire()).toThrow(`agent a1 is already running (pid ${process.pid}`);
    expect(await tryAgent(script, base, "a1")).toMatchObject({ event: "refused" });
    lock.release();
    expect(await tryAgent(script, base, "a1")).toMatchObject({ event: "locked", takenOver: false });
  });

  test("a lock the caller no longer references survives garbage collection", async () => {
    // Bun closes a collected Database, which would free the home; the lock must stay pinned until exit.
    const careless = startAgent(script, base, "a1", "drop");
    agents.push(careless);
    expect(await careless.next()).toMatchObject({ event: "locked" });
    expect(await careless.next()).toMatchObject({ event: "collected" });
    expect(await tryAgent(script, base, "a1")).toMatchObject({ event: "refused" });
  });
});
