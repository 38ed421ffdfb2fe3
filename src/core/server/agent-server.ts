/**
 * The agent's health server (health.bind:health.port) and, when metrics.port is set, a second one
 * for metrics only. Started by the lifecycle once the home is locked; the inputs are getters, read
 * on each request. debug.enabled adds /debug/heap and /debug/profile for loopback clients (see app.ts).
 */
import type { ApiClient } from "../api/index.ts";
import type { Config } from "../config/index.ts";
import type { Logger } from "../log/index.ts";
import type { AgentMetrics } from "./agent-metrics.ts";
import { createHealthApp } from "./app.ts";
import { checkReadiness, type Readiness, type ReadinessInputs } from "./readiness.ts";
import { serve, type RunningServer } from "./serve.ts";

export interface AgentServerOptions {
  config: () => Config;
  api: ApiClient;
  metrics: AgentMetrics;
  logger: Logger;
  version: string;
  startedAt: number;
  /** The runtime's plugins() summary. */
  plugins: () => Promise<Record<string, unknown>>;
  registration: () => ReadinessInputs["registration"];
  runtime: () => ReadinessInputs["runtime"];
  stopping: () => boolean;
  /** The runtime's own reasons not to be ready (a spool that cannot be written). */
  problems?: () => string[];
}

export interface AgentServer {
  /** Where /health, /ready, /status (and /metrics unless on its own port) answer; undefined when health.enabled is false. */
  url?: string;
  metricsUrl?: string;
  readiness(): Readiness;
  stop(): Promise<void>;
}

export function startAgentServer(options: AgentServerOptions): AgentServer {
  const config = options.config();
  const { health, metrics } = config;
  const readiness = () => {
    const current = options.config();
    const state = options.api.state;
    return checkReadiness({
      now: Date.now(),
      heartbeatMs: current.agent.heartbeat,
      registration: options.registration(),
      lastSuccessAt: state.lastSuccessAt,
      authFailing: state.authFailing,
      lastError: state.lastError,
      runtime: options.runtime(),
      stopping: options.stopping(),
      problems: options.problems?.(),
    });
  };
  const status = async () => statusDocument(options, readiness());
  const renderMetrics = () => options.metrics.registry.render();
  const authToken = () => options.config().health.auth_token;
  const separateMetrics = metrics.enabled && metrics.port !== 0;
  const servers: RunningServer[] = [];
  const stopAll = () => Promise.allSettled(servers.map((server) => server.stop())).then(() => undefined);
  const result: AgentServer = { readiness, stop: stopAll };
  try {
    if (health.enabled) {
      const app = createHealthApp({
        healthPath: health.path,
        metricsPath: metrics.enabled && !separateMetrics ? metrics.path : undefined,
        authToken,
        readiness,
        status,
        metrics: renderMetrics,
        debug: () => options.config().debug.enabled,
      });
      const server = serve({ hostname: health.bind, port: health.port, portKey: "health.port", fetch: app.fetch });
      servers.push(server);
      result.url = server.url;
      options.logger.info(`health server listening on ${server.url}`, { health: health.path, metrics: metrics.enabled && !separateMetrics ? metrics.path : undefined });
    }
    if (separateMetrics) {
      const app = createHealthApp({ healthPath: health.path, metricsPath: metrics.path, metricsOnly: true, authToken, readiness, status, metrics: renderMetrics });
      const server = serve({ hostname: health.bind, port: metrics.port, portKey: "metrics.port", fetch: app.fetch });
      servers.push(server);
      result.metricsUrl = server.url;
      options.logger.info(`metrics server listening on ${server.url}${metrics.path}`);
    }
  } catch (error) {
    void stopAll();
    throw error;
  }
  return result;
}

async function statusDocument(options: AgentServerOptions, readiness: Readiness): Promise<Record<string, unknown>> {
  const { agent, api } = options.config();
  const state = options.api.state;
  const plugins = await options.plugins().catch((error: unknown) => ({ error: String(error) }) as Record<string, unknown>);
  const events = plugins.events as { spool?: unknown } | undefined;
  return {
    agent: { id: agent.id, name: agent.name, type: agent.type, tenant_id: agent.tenant_id, environment: agent.environment, region: agent.region, tags: agent.tags },
    version: options.version,
    pid: process.pid,
    started_at: new Date(options.startedAt).toISOString(),
    uptime_seconds: Math.round((Date.now() - options.startedAt) / 1000),
    ready: readiness.ready,
    reasons: readiness.reasons,
    components: {
      orchestrator: {
        url: api.base_url,
        reachable: state.ready,
        auth_failing: state.authFailing,
        last_success_at: state.lastSuccessAt === undefined ? null : new Date(state.lastSuccessAt).toISOString(),
        last_error: state.lastError ?? null,
      },
      registration: options.registration(),
      runtime: options.runtime(),
      stopping: options.stopping(),
    },
    spool: events?.spool ?? null,
    plugins,
  };
}
