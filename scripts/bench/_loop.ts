/**
 * A real loop on loopback for the agent benchmarks: `stavily orchestrator` (in-memory SQLite) and
 * one `stavily action` agent, both the binary under test, driven through the admin API.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

const ADMIN = "bench-admin-token-0123456789";

export interface Loop {
  url: string;
  agentId: string;
  agentPid: number;
  /** Admin API call; throws on a non-2xx answer. */
  admin(path: string, body?: unknown): Promise<any>;
  /** Starts the agent (again); resolves when the orchestrator has its first heartbeat. Returns ms from spawn. */
  startAgent(): Promise<number>;
  stopAgent(): Promise<void>;
  close(): Promise<void>;
}

/** `stavily orchestrator` on in-memory SQLite and a free loopback port; resolves with its URL. */
export async function startBenchOrchestrator(binary: string, dir: string, env: Record<string, string | undefined>) {
  const proc = Bun.spawn([binary, "orchestrator", "--db", ":memory:", "--listen", "127.0.0.1:0", "--insecure-dev"], { cwd: dir, env, stdout: "pipe", stderr: "ignore" });
  const url = await firstMatch(proc.stdout, /listening on (http:\/\/127\.0\.0\.1:\d+)/);
  return { proc, url };
}

/** An agent config for the benchmarks: quiet logs, no rate limit in the way, root allowed (CI runs as root). */
export function writeBenchConfig(file: string, options: { type: "sensor" | "action"; id: string; dir: string; url: string; lines: string[] }): string {
  writeFileSync(
    file,
    [
      "agent:",
      `  type: ${options.type}`,
      `  id: ${options.id}`,
      `  base_dir: ${join(options.dir, "agents")}`,
      "  heartbeat: 30s",
      "  poll_interval: 10m",
      "api:",
      `  base_url: ${options.url}`,
      "  rate_limit_rps: 10000",
      "security:",
      "  allow_root: true",
      "  auth:",
      "    api_key: bench-agent-token-0123456789",
      "logging:",
      "  level: warn",
      ...options.lines,
      "",
    ].join("\n"),
  );
  return file;
}

export async function startLoop(binary: string, options: { slots: number; env: Record<string, string | undefined> }): Promise<Loop> {
  const dir = mkdtempSync(join(tmpdir(), "stavily-bench-loop-"));
  const env = { ...options.env, STAVILY_ADMIN_TOKEN: ADMIN };
  const { proc: orchestrator, url } = await startBenchOrchestrator(binary, dir, env);
  const agentId = `bench-${options.slots}`;
  const config = writeBenchConfig(join(dir, "action.yaml"), { type: "action", id: agentId, dir, url, lines: ["action:", `  max_concurrent_tasks: ${options.slots}`] });
  let agent: Subprocess | undefined;

  const admin = async (path: string, body?: unknown): Promise<any> => {
    const response = await fetch(`${url}/api/v1${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await response.json();
    if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  };

  const loop: Loop = {
    url,
    agentId,
    get agentPid() {
      return agent?.pid ?? 0;
    },
    admin,
    async startAgent() {
      const spawned = performance.timeOrigin + performance.now();
      agent = Bun.spawn([binary, "action", "-c", config], { cwd: dir, env, stdout: "ignore", stderr: "ignore" });
      for (const deadline = Date.now() + 15_000; Date.now() < deadline; await Bun.sleep(2)) {
        const { agents } = await admin("/agents");
        const found = agents.find((item: any) => item.id === agentId);
        const beat = found?.last_heartbeat?.timestamp;
        if (beat && Date.parse(beat) >= spawned - 1) return Date.parse(beat) - spawned;
      }
      throw new Error("bench: the agent sent no heartbeat within 15 s");
    },
    async stopAgent() {
      agent?.kill("SIGTERM");
      await agent?.exited;
    },
    async close() {
      await loop.stopAgent();
      orchestrator.kill("SIGTERM");
      await orchestrator.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return loop;
}

async function firstMatch(stream: ReadableStream<Uint8Array>, pattern: RegExp): Promise<string> {
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    text += decoder.decode(chunk, { stream: true });
    const match = text.match(pattern);
    if (match) return match[1]!;
  }
  throw new Error(`bench: the orchestrator exited before printing its address:\n${text}`);
}

/** Resident memory of a process, MB (10^6 bytes), from /proc (Linux). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
  return (kb * 1024) / 1e6;
}

export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
