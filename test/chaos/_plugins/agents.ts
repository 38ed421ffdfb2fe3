/**
 * The agents of the plugins scenario and what is asked of them: one plugins directory for all (the
 * fixtures and copies of misbehave), agents started at a sandbox level, instructions created and awaited
 * through the admin API, and the checks that an agent stayed itself and stops promptly.
 */
import { expect } from "bun:test";
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeAgentConfig, type Orchestrator } from "../../support/agents.ts";
import { startProcess, type TestProcess } from "../../support/process.ts";
import { FINAL } from "../_flows.ts";
import type { Level, Planned } from "./mix.ts";

const FIXTURES = join(import.meta.dir, "..", "fixtures", "plugins");

export interface Agent {
  process: TestProcess;
  home: string;
  health: string;
}

/** One plugins directory for every agent: the fixtures, and `copies` copies of misbehave under their own ids. */
export function installPlugins(plugins: string, copies: number): void {
  for (const id of ["steady", "tally", "unruly"]) cpSync(join(FIXTURES, id), join(plugins, id), { recursive: true });
  for (let n = 0; n < copies; n++) {
    const target = join(plugins, `misbehave-${n}`);
    cpSync(join(FIXTURES, "misbehave"), target, { recursive: true });
    const manifest = join(target, "plugin.yaml");
    writeFileSync(manifest, readFileSync(manifest, "utf8").replace("id: misbehave", `id: misbehave-${n}`));
  }
}

export function createLab(options: { dir: string; plugins: string; binary: string; orchestrator: Orchestrator; adminToken: string }) {
  const { dir, orchestrator } = options;

  async function admin(path: string, init: RequestInit = {}): Promise<any> {
    const response = await fetch(`${orchestrator.url}/api/v1${path}`, {
      ...init,
      headers: { authorization: `Bearer ${options.adminToken}`, "content-type": "application/json", ...init.headers },
    });
    const body = await response.json();
    if (!response.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${JSON.stringify(body)}`);
    return body;
  }

  return {
    async startAgent(id: string, level: Level, type: "action" | "sensor", extra: Record<string, unknown>): Promise<Agent> {
      const config = writeAgentConfig(dir, {
        type,
        id,
        baseDir: join(dir, "agents"),
        url: orchestrator.url,
        extra: {
          agent: { poll_interval: "10m" },
          logging: { level: "info", format: "json" },
          plugins: { directory: options.plugins },
          security: { sandbox: { level } },
          ...extra,
        },
      });
      const agent = startProcess([options.binary, type, "-c", config]);
      const health = (await agent.waitFor(/health server listening on (http:\/\/[\d.:]+)/))[1]!;
      return { process: agent, home: join(dir, "agents", `agent-${id}`), health };
    },

    /** A misbehaving run costs up to 1 s (plus the grace period and a restart); a check after the storm gets time for a restart. */
    async create(agentId: string, planned: Planned, timeoutSeconds = 1): Promise<string> {
      const created = await admin("/instructions", {
        method: "POST",
        body: JSON.stringify({ instruction_type: "execute", agent_id: agentId, plugin_id: planned.plugin, input_data: planned.input, timeout_seconds: timeoutSeconds, max_retries: 0 }),
      });
      return created.id;
    },

    /**
     * The instructions among `ids` that have ended, once all have or at the deadline (the accounting counts
     * what is missing). `meanwhile` runs about once a second while they are awaited.
     */
    async finals(agentId: string, ids: string[], timeoutMs: number, meanwhile?: () => Promise<void>): Promise<Map<string, any>> {
      const wanted = new Set(ids);
      const deadline = Date.now() + timeoutMs;
      for (let poll = 0; ; poll++) {
        const { instructions } = await admin(`/instructions?agent_id=${agentId}&limit=1000`);
        const done = new Map<string, any>();
        for (const instruction of instructions) if (wanted.has(instruction.id) && FINAL.has(instruction.status)) done.set(instruction.id, instruction);
        if (done.size === wanted.size || Date.now() > deadline) return done;
        if (meanwhile && poll % 10 === 0) await meanwhile();
        await Bun.sleep(100);
      }
    },

    async storedEvents(agentId: string, type: string): Promise<Array<{ id: string; data: { seq: number } }>> {
      const response = await fetch(`${orchestrator.url}/api/v1/events?agent_id=${agentId}&type=${type}&limit=1000`, { headers: { authorization: `Bearer ${options.adminToken}` } });
      if (!response.ok) throw new Error(`events: ${response.status}`);
      return ((await response.json()) as { events: Array<{ id: string; data: { seq: number } }> }).events;
    },
  };
}

/** Still the process the test started (never restarted: its pid lives on), answering /health. */
export async function healthy(agent: Agent): Promise<void> {
  expect(agent.process.proc.exitCode).toBeNull();
  expect(existsSync(`/proc/${agent.process.proc.pid}`)).toBe(true);
  expect((await fetch(`${agent.health}/health`)).status).toBe(200);
}

/** SIGTERM: exit 0 within the shutdown grace (5 s, agents.ts) and a margin, not when some plugin timer fires. */
export async function stopsPromptly(agent: Agent): Promise<void> {
  const stopping = Date.now();
  agent.process.kill("SIGTERM");
  expect(await agent.process.exited).toBe(0);
  expect(Date.now() - stopping).toBeLessThan(10_000);
}

/** Runs `body`; a failure carries the agent's last 40 lines, and the agent is killed at the end whatever happened. */
export async function withAgent(name: string, agent: Agent, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${message}\n\n----- ${name} (last 40 lines) -----\n${agent.process.output().split("\n").slice(-40).join("\n")}`, { cause: error });
  } finally {
    agent.process.kill("SIGKILL");
  }
}
