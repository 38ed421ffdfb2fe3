/**
 * `stavily dev`: the main job on one machine. A reference orchestrator on temporary SQLite, one
 * sensor and one action agent (child processes of this same program), a rule between them, and a
 * file written into the watched directory every few seconds, so the loop runs before your eyes:
 * file written → event → rule → instruction → echo → result. Ctrl-C stops everything cleanly and
 * removes the temporary state unless --keep.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errorMessage } from "../core/errors.ts";
import { ACTION_ID, agentConfig, RULE, SENSOR_ID } from "./demo.ts";
import { firstLine, startChild, stopChild, type Child } from "./processes.ts";

export interface DevOptions {
  /** Keep the temporary directory (databases, agent homes, logs) after stopping. */
  keep: boolean;
  /** How often the demo writes a file into the watched directory. */
  everyMs: number;
  /** Where lines go (stdout). */
  print: (line: string) => void;
}

const POLL_MS = 500;
/** Ctrl-C, kill, a closed terminal: each stops the demo in order (the children are not in our process group). */
const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

export async function runDev(options: DevOptions): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "stavily-dev-"));
  const watched = join(dir, "watched");
  mkdirSync(watched);
  mkdirSync(join(dir, "logs"));
  const admin = `dev-admin-${crypto.randomUUID()}`;
  // The user's own STAVILY_* settings are for their agents, not for the demo's.
  const env: Record<string, string | undefined> = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("STAVILY_")));
  Object.assign(env, { STAVILY_ADMIN_TOKEN: admin, NO_COLOR: "1" });
  const children: Child[] = [];
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  const time = () => new Date().toTimeString().slice(0, 8);
  const say = (line: string) => options.print(`${time()}  ${line}`);

  try {
    const orchestrator = startChild("orchestrator", ["orchestrator", "--db", join(dir, "orchestrator.db"), "--listen", "127.0.0.1:0", "--insecure-dev"], {
      cwd: dir,
      env,
      logFile: join(dir, "logs", "orchestrator.log"),
      stdout: "pipe",
    });
    children.push(orchestrator);
    const url = (await firstLine(orchestrator, /listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
    const api = adminClient(url, admin);
    await api("/rules", RULE);

    for (const type of ["action", "sensor"] as const) {
      const config = join(dir, `${type}.yaml`);
      writeFileSync(config, agentConfig(type, { dir, url, watched }));
      children.push(startChild(type, [type, "-c", config], { cwd: dir, env, logFile: join(dir, "logs", `${type}.log`) }));
    }

    options.print("stavily dev: the whole loop on this machine. Ctrl-C stops it.");
    options.print(`  orchestrator  ${url}  (admin token ${admin})`);
    options.print(`  sensor        ${SENSOR_ID}, watching ${watched}/*.txt`);
    options.print(`  action        ${ACTION_ID}, running echo`);
    options.print(`  rule          file.created → echo "hello, <path>" on ${ACTION_ID}`);
    options.print(`  logs          ${join(dir, "logs")}`);
    options.print("");

    await watch({ api, watched, everyMs: options.everyMs, signal: stop.signal, say, children });
    return 0;
  } catch (error) {
    if (stop.signal.aborted) return 0;
    options.print(`stavily dev: ${errorMessage(error)}`);
    return 1;
  } finally {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
    options.print("stopping…");
    // Agents first, so they say offline to an orchestrator that is still there.
    await Promise.all(children.filter((child) => child.name !== "orchestrator").map((child) => stopChild(child)));
    await Promise.all(children.filter((child) => child.name === "orchestrator").map((child) => stopChild(child)));
    if (options.keep) options.print(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
    options.print("stopped");
  }
}

type Admin = (path: string, body?: unknown) => Promise<any>;

function adminClient(url: string, token: string): Admin {
  return async (path, body) => {
    const response = await fetch(`${url}/api/v1${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await response.json();
    if (!response.ok) throw new Error(`orchestrator: ${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
}

/** Writes a file now and then, and prints what happens, until stopped. */
async function watch(options: { api: Admin; watched: string; everyMs: number; signal: AbortSignal; say: (line: string) => void; children: Child[] }): Promise<void> {
  const { api, signal, say } = options;
  const seenEvents = new Set<string>();
  const finished = new Set<string>();
  const online = new Set<string>();
  let written = 0;
  let nextWrite = Date.now() + 2_000;
  while (!signal.aborted) {
    for (const child of options.children) {
      if (child.proc.exitCode !== null) throw new Error(`${child.name} stopped (exit ${child.proc.exitCode}); see ${child.logFile}`);
    }
    const { agents } = await api("/agents");
    for (const agent of agents as Array<{ id: string; status: string }>) {
      if (agent.status === "online" && !online.has(agent.id)) say(`agent online    ${agent.id}`);
      if (agent.status === "online") online.add(agent.id);
      else online.delete(agent.id);
    }
    if (online.has(SENSOR_ID) && Date.now() >= nextWrite) {
      const file = join(options.watched, `hello-${++written}.txt`);
      writeFileSync(file, `written by stavily dev at ${new Date().toISOString()}\n`);
      say(`wrote           ${file}`);
      nextWrite = Date.now() + options.everyMs;
    }
    const { events } = await api(`/events?agent_id=${SENSOR_ID}&limit=50`);
    for (const event of [...(events as Array<{ id: string; type: string; data: { path?: string } }>)].reverse()) {
      if (seenEvents.has(event.id)) continue;
      seenEvents.add(event.id);
      say(`event           ${event.type} ${event.data.path ?? ""}  (from ${SENSOR_ID})`);
    }
    const { instructions } = await api(`/instructions?agent_id=${ACTION_ID}&limit=50`);
    for (const item of [...(instructions as Array<{ id: string; status: string; result: unknown; error_message: string | null }>)].reverse()) {
      if (finished.has(item.id) || !["completed", "failed", "timeout", "cancelled"].includes(item.status)) continue;
      finished.add(item.id);
      const outcome = item.status === "completed" ? JSON.stringify((item.result as { message?: string })?.message ?? item.result) : item.error_message;
      say(`instruction     ${item.id} ${item.status}: ${outcome}`);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, POLL_MS);
      signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
    });
  }
}
