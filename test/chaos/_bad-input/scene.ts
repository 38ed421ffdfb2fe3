/**
 * The scene of the bad-input scenario: the real orchestrator, the corrupting proxy in front of it, the
 * archive server, and a sensor and an action agent that reach the orchestrator only through the proxy;
 * with the admin calls the barrage makes.
 */
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startOrchestrator, writeAgentConfig } from "../../support/agents.ts";
import { freePort, startProcess, waitUntil, type TestProcess } from "../../support/process.ts";
import { FINAL } from "../_flows.ts";
import { startArchiveServer, type Archives } from "./archives.ts";
import { startProxy, type Proxy } from "./proxy.ts";

export const ADMIN = "bad-input-admin-token-0123456789";
export const ACTION = "bad-input-action";
export const SENSOR = "bad-input-sensor";

export type AgentType = "action" | "sensor";
export const AGENT_IDS: Record<AgentType, string> = { action: ACTION, sensor: SENSOR };

export interface Scene {
  /** The scenario's scratch directory: configs, homes, plugins directories, databases. */
  dir: string;
  orchestratorDb: string;
  orchestrator: TestProcess;
  orchestratorUrl: string;
  proxy: Proxy;
  archives: Archives;
  agents: Record<AgentType, TestProcess>;
  /** Each agent's config file, the settings it is written from, and the port of its health server. */
  files: Record<AgentType, string>;
  configs: Record<AgentType, Record<string, Record<string, unknown>>>;
  health: Record<AgentType, number>;
  pluginsDirs: Record<AgentType, string>;
  /** The file each good instruction appends its mark to: its observable effect. */
  marks: string;
  /** Every bad input sent, with the message it produced (asserted as it happens). */
  barrage: string[];
  /** Instructions written straight into the orchestrator's database; the agent refuses every delivery. */
  injectedRows: string[];
}

export async function startScene(binary: string, dir: string): Promise<Scene> {
  const orchestratorDb = join(dir, "orchestrator.db");
  // A short lease: an instruction whose delivery answer the proxy corrupted comes back within seconds.
  const orchestrator = await startOrchestrator(binary, { db: orchestratorDb, adminToken: ADMIN, lease: "3s" });
  const proxy = startProxy(orchestrator.url);
  const archives = startArchiveServer();
  // The sensor's plugins directory holds its own copy of the burst trigger.
  const pluginsDirs = { action: join(dir, "action-plugins"), sensor: join(dir, "sensor-plugins") };
  mkdirSync(pluginsDirs.action, { recursive: true });
  cpSync(join(import.meta.dir, "..", "..", "e2e", "fixtures", "plugins", "burst"), join(pluginsDirs.sensor, "burst"), { recursive: true });
  const marks = join(dir, "marks.txt");
  writeFileSync(marks, "");
  const health = { action: freePort(), sensor: freePort() };
  // The default 10 calls/s would let the good work pile up behind the three calls each instruction makes.
  const api = { retry_delay: "100ms", rate_limit_rps: 200 };
  const configs: Scene["configs"] = {
    action: {
      agent: { poll_interval: "10m" },
      api,
      action: { max_concurrent_tasks: 4 },
      // watch_changes: the plugins directory is read again every 2 s, so dropped manifests are noticed.
      plugins: { directory: pluginsDirs.action, watch_changes: true, config: { "shell-command": { allowed_commands: ["sh"] } } },
      health: { port: health.action },
      logging: { level: "info" },
    },
    sensor: {
      agent: { poll_interval: "10m" },
      api,
      plugins: { directory: pluginsDirs.sensor },
      sensor: { batch_size: 50, flush_interval: "200ms", triggers: [{ plugin: "burst", interval: "100ms", config: { per_run: 10, total: 1_000_000_000 } }] },
      health: { port: health.sensor },
      logging: { level: "info" },
    },
  };
  const files = { action: writeConfig({ dir, configs, proxy }, "action"), sensor: writeConfig({ dir, configs, proxy }, "sensor") };
  const agents = { action: startProcess([binary, "action", "-c", files.action]), sensor: startProcess([binary, "sensor", "-c", files.sensor]) };
  return { dir, orchestratorDb, orchestrator: orchestrator.process, orchestratorUrl: orchestrator.url, proxy, archives, agents, files, configs, health, pluginsDirs, marks, barrage: [], injectedRows: [] };
}

export function writeConfig(scene: Pick<Scene, "dir" | "configs" | "proxy">, type: AgentType): string {
  return writeAgentConfig(scene.dir, { type, id: AGENT_IDS[type], baseDir: join(scene.dir, "homes"), url: scene.proxy.url, extra: scene.configs[type] });
}

/** What the agent's /status says: the config it runs with, among the rest. */
export async function status(scene: Scene, type: AgentType): Promise<any> {
  return (await fetch(`http://127.0.0.1:${scene.health[type]}/status`)).json();
}

export async function admin(scene: Scene, path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${scene.orchestratorUrl}/api/v1${path}`, {
    ...init,
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json", ...init.headers },
  });
  return { status: response.status, body: await response.json() };
}

export async function create(scene: Scene, body: Record<string, unknown>): Promise<string> {
  const created = await admin(scene, "/instructions", { method: "POST", body: JSON.stringify({ instruction_type: "execute", max_retries: 0, timeout_seconds: 30, ...body }) });
  if (created.status !== 201 && created.status !== 200) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body.id;
}

export function ended(scene: Scene, id: string, timeoutMs = 30_000): Promise<any> {
  return waitUntil(
    async () => {
      const { body } = await admin(scene, `/instructions/${id}`);
      return FINAL.has(body.status) ? body : undefined;
    },
    `instruction ${id} to end`,
    timeoutMs,
  );
}
