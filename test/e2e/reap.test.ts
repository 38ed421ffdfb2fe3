/**
 * A command an instruction started outlives a kill -9 of the action agent (its own process group),
 * but not the agent's restart: the restarted agent finds it by STAVILY_AGENT_HOME and kills it before
 * taking work, so an instruction reported `agent_restarted` never takes effect afterwards. With the
 * compiled binary, at sandbox levels worker (ctx.exec in the agent) and process (in `stavily plugin-host`).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOrchestrator, writeAgentConfig, type Orchestrator } from "../support/agents.ts";
import { hostBinary } from "../support/binary.ts";
import { killAll, startProcess, waitUntil, type TestProcess } from "../support/process.ts";

const ADMIN = "test-admin-token-0123456789";
/** How long the command sleeps before it writes its effect. */
const SLEEP_S = 8;
const dir = mkdtempSync(join(tmpdir(), "stavily-reap-e2e-"));
let binary: string;
let orchestrator: Orchestrator;
/** Leftovers a failed test may leave, killed at the end. */
const found = new Set<number>();

beforeAll(async () => {
  binary = await hostBinary();
  orchestrator = await startOrchestrator(binary, { db: ":memory:", adminToken: ADMIN });
});

afterAll(async () => {
  await killAll();
  for (const pid of found) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone, as it should be
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

async function admin(path: string, init: RequestInit = {}): Promise<any> {
  const response = await fetch(`${orchestrator.url}/api/v1${path}`, {
    ...init,
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json", ...init.headers },
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

/** Processes marked with `home` whose command line mentions `needle`. */
function marked(home: string, needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) continue;
      if (readFileSync(`/proc/${entry}/environ`, "utf8").split("\0").includes(`STAVILY_AGENT_HOME=${home}`)) pids.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

describe.skipIf(process.platform !== "linux")("a restarted agent reaps what its killed predecessor left running", () => {
  for (const level of ["worker", "process"]) {
    test(
      `sandbox level ${level}: the command is gone, the instruction ends agent_restarted, its effect never happens`,
      async () => {
        const id = `e2e-reap-${level}`;
        const baseDir = join(dir, "homes");
        const home = join(baseDir, `agent-${id}`);
        const effect = join(dir, `${id}.effect`);
        const config = writeAgentConfig(dir, {
          type: "action",
          id,
          baseDir,
          url: orchestrator.url,
          extra: {
            agent: { poll_interval: "10m" },
            security: { sandbox: { level } },
            plugins: { config: { "shell-command": { allowed_commands: ["sh"] } } },
          },
        });
        const agents: TestProcess[] = [];
        const start = async (name: string) => {
          const agent = startProcess([binary, "action", "-c", config]);
          agents.push(agent);
          await agent.waitFor(/taking instructions in \d+ slots?/, 30_000).catch((error: Error) => {
            throw new Error(`${name}: ${error.message}`);
          });
          return agent;
        };
        try {
          const first = await start("agent");
          const created = await admin("/instructions", {
            method: "POST",
            body: JSON.stringify({
              agent_id: id,
              plugin_id: "shell-command",
              instruction_type: "execute",
              max_retries: 0,
              input_data: { command: ["sh", "-c", `sleep ${SLEEP_S}; echo done > ${effect}`] },
              timeout_seconds: 120,
            }),
          });
          const startedAt = Date.now();
          const children = await waitUntil(() => nonEmpty(marked(home, effect)), "the command to run, marked with the agent's home", 20_000);
          for (const pid of children) found.add(pid);

          first.kill("SIGKILL");
          await first.exited;
          // Its own process group: the agent's death does not reach it.
          expect(marked(home, effect)).toEqual(children);

          const restarted = await start("restarted agent");
          // Reaped before the agent takes work: gone by the time it says it takes instructions.
          expect(marked(home, effect).filter((pid) => isAlive(pid))).toEqual([]);
          expect(restarted.output()).toContain("killed a plugin process left by an earlier run");
          const done = await waitUntil(
            async () => {
              const instruction = await admin(`/instructions/${created.id}`);
              return ["completed", "failed", "timeout", "cancelled"].includes(instruction.status) ? instruction : undefined;
            },
            "a final status",
            30_000,
          );
          expect(done.status).toBe("failed");
          expect(done.error_details).toMatchObject({ reason: "agent_restarted" });
          // Past the moment the command would have written its effect.
          await Bun.sleep(Math.max(0, startedAt + (SLEEP_S + 2) * 1000 - Date.now()));
          expect(existsSync(effect)).toBe(false);

          restarted.kill("SIGTERM");
          expect(await restarted.exited).toBe(0);
        } catch (error) {
          const logs = agents.map((agent, n) => `----- agent run ${n + 1} -----\n${agent.output()}`).join("\n");
          throw new Error(`${(error as Error).message}\n\n${logs}`, { cause: error });
        }
      },
      90_000,
    );
  }
});

function nonEmpty<T>(list: T[]): T[] | undefined {
  return list.length > 0 ? list : undefined;
}

/** Alive and not a zombie. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}
