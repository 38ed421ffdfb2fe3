/**
 * What the end-to-end tests share: `stavily orchestrator` started on 127.0.0.1, and agent configs
 * built from one base (its own id and home, a 1 s heartbeat, debug logs, root allowed because CI
 * runs as root) with each test's own settings merged over it.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { startProcess, type TestProcess } from "./process.ts";

export interface Orchestrator {
  process: TestProcess;
  url: string;
}

export async function startOrchestrator(binary: string, options: { db: string; listen?: string; adminToken: string; lease?: string }): Promise<Orchestrator> {
  const args = [binary, "orchestrator", "--db", options.db, "--listen", options.listen ?? "127.0.0.1:0", "--insecure-dev", "--admin-token", options.adminToken];
  if (options.lease) args.push("--lease", options.lease);
  const process = startProcess(args);
  const url = (await process.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
  return { process, url };
}

export interface AgentConfigOptions {
  type: "sensor" | "action";
  id: string;
  /** Where agent homes live. */
  baseDir: string;
  url: string;
  /** The test's own settings, as YAML lines or an object, merged over the base. */
  extra?: string[] | Record<string, unknown>;
}

/** Writes `<dir>/<id>.yaml` and returns its path. */
export function writeAgentConfig(dir: string, options: AgentConfigOptions): string {
  const base = {
    agent: { type: options.type, id: options.id, base_dir: options.baseDir, heartbeat: "1s", shutdown_grace: "5s" },
    api: { base_url: options.url },
    // CI and these tests run as root; the agent refuses root unless told.
    security: { allow_root: true, auth: { api_key: "e2e-agent-token-abcdef" } },
    logging: { level: "debug" },
  };
  const extra = Array.isArray(options.extra) ? ((parse(options.extra.join("\n")) ?? {}) as Record<string, unknown>) : (options.extra ?? {});
  const file = join(dir, `${options.id}.yaml`);
  writeFileSync(file, stringify(merge(base, extra)));
  return file;
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    const nested = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === "object" && !Array.isArray(x);
    out[key] = nested(current) && nested(value) ? merge(current, value) : value;
  }
  return out;
}
