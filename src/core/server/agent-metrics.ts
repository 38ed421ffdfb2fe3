/**
 * The agent's metrics: HTTP calls (from the API client's onCall hook), heartbeats and instructions
 * (from a thin wrapper around the API client), and, read at scrape time, the runtime's plugin
 * summary (events, spool, per-plugin stats) and the process's memory and CPU.
 */
import type { ApiClient } from "../api/index.ts";
import { createRegistry, type Registry } from "./metrics.ts";

export interface AgentMetricsOptions {
  /** metrics.namespace. */
  namespace: string;
  version: string;
  agentType: string;
  /** The runtime's plugins() summary, read at each scrape. */
  plugins: () => Promise<Record<string, unknown>>;
  /** 1 when /ready would answer 200. */
  ready?: () => boolean;
}

export type AgentMetrics = ReturnType<typeof createAgentMetrics>;

const INSTRUCTION_BUCKETS = [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];
/** Instructions whose start is remembered for the duration histogram, at most (a leak guard). */
const MAX_STARTED = 10_000;

export function createAgentMetrics(options: AgentMetricsOptions) {
  const registry: Registry = createRegistry(options.namespace);
  registry.gauge("build_info", "Version and agent type of this agent (always 1)", ["version", "agent_type"]).set({ version: options.version, agent_type: options.agentType }, 1);
  const ready = registry.gauge("ready", "1 when /ready answers 200");
  const rss = registry.gauge("process_resident_memory_bytes", "Resident memory of the agent process");
  const heap = registry.gauge("process_heap_bytes", "JavaScript heap in use");
  const cpu = registry.counter("process_cpu_seconds_total", "User and system CPU time of the agent process");
  registry.gauge("process_start_time_seconds", "Start of the agent process, seconds since the epoch").set({}, Math.round(Date.now() / 1000 - process.uptime()));
  const heartbeats = registry.counter("heartbeats_total", "Heartbeats sent to the orchestrator, by result (sent or failed)", ["result"]);
  const calls = registry.counter("http_requests_total", "HTTP calls to the orchestrator by endpoint and status code (or error kind)", ["method", "endpoint", "code"]);
  const callSeconds = registry.histogram("http_request_duration_seconds", "Duration of HTTP calls to the orchestrator", ["method", "endpoint"]);
  const instructions = registry.counter("instructions_total", "Instruction results accepted by the orchestrator, by status", ["status"]);
  const instructionSeconds = registry.histogram("instruction_duration_seconds", "From executing to result, by status", ["status"], INSTRUCTION_BUCKETS);
  const events = registry.counter("events_total", "Sensor events by stage: detected, suppressed (cooldown), delivered, dropped", ["stage"]);
  const spoolEvents = registry.gauge("spool_events", "Events waiting in the sensor's spool");
  const spoolBytes = registry.gauge("spool_bytes", "Bytes of events waiting in the sensor's spool");
  const pluginRuns = registry.counter("plugin_runs_total", "Plugin calls", ["plugin", "instance"]);
  const pluginFailures = registry.counter("plugin_failures_total", "Plugin calls that failed (timeouts and kills included)", ["plugin", "instance"]);
  const pluginRestarts = registry.counter("plugin_restarts_total", "Plugin instances restarted after a crash or kill", ["plugin", "instance"]);
  const pluginCrashes = registry.counter("plugin_crashes_total", "Plugin instances that ended without being asked to", ["plugin", "instance"]);
  const pluginQuarantined = registry.gauge("plugin_quarantined", "1 while the plugin instance is quarantined", ["plugin", "instance"]);

  registry.onCollect(async () => {
    const memory = process.memoryUsage();
    rss.set({}, memory.rss);
    heap.set({}, memory.heapUsed);
    const usage = process.cpuUsage();
    cpu.set({}, (usage.user + usage.system) / 1e6);
    if (options.ready) ready.set({}, options.ready() ? 1 : 0);
    const summary = await options.plugins().catch(() => ({}) as Record<string, unknown>);
    collectEvents(summary.events);
    for (const family of [pluginRuns, pluginFailures, pluginRestarts, pluginCrashes, pluginQuarantined]) family.reset();
    for (const [plugin, item] of Object.entries(summary)) {
      const instances = (item as { instances?: Record<string, { state?: string; stats?: Record<string, number> }> } | null)?.instances;
      if (!instances || typeof instances !== "object") continue;
      for (const [instance, { state, stats = {} }] of Object.entries(instances)) {
        const labels = { plugin, instance };
        pluginRuns.set(labels, stats.runs ?? 0);
        pluginFailures.set(labels, stats.failures ?? 0);
        pluginRestarts.set(labels, stats.restarts ?? 0);
        pluginCrashes.set(labels, stats.crashes ?? 0);
        pluginQuarantined.set(labels, state === "quarantined" ? 1 : 0);
      }
    }
  });

  function collectEvents(value: unknown): void {
    if (!value || typeof value !== "object") return;
    const counts = value as { detected?: number; suppressed?: number; dropped?: number; delivered?: number; spool?: { events?: number; bytes?: number } };
    for (const stage of ["detected", "suppressed", "delivered", "dropped"] as const) {
      if (typeof counts[stage] === "number") events.set({ stage }, counts[stage]);
    }
    if (counts.spool) {
      spoolEvents.set({}, counts.spool.events ?? 0);
      spoolBytes.set({}, counts.spool.bytes ?? 0);
    }
  }

  const started = new Map<string, number>();

  return {
    registry,
    /** For ApiClientOptions.onCall. */
    onCall(endpoint: string, outcome: number | string, ms: number, method: string): void {
      calls.inc({ method, endpoint, code: String(outcome) });
      callSeconds.observe({ method, endpoint }, ms / 1000);
    },
    /** The same client, counting heartbeats and instruction results as they happen. */
    instrument(api: ApiClient): ApiClient {
      return {
        register: (body, signal) => api.register(body, signal),
        async heartbeat(body, signal) {
          try {
            const answer = await api.heartbeat(body, signal);
            heartbeats.inc({ result: "sent" });
            return answer;
          } catch (error) {
            if (!signal?.aborted) heartbeats.inc({ result: "failed" });
            throw error;
          }
        },
        poll: (pollOptions) => api.poll(pollOptions),
        async update(instructionId, body, signal) {
          if (body.status === "executing" && !started.has(instructionId) && started.size < MAX_STARTED) started.set(instructionId, performance.now());
          return api.update(instructionId, body, signal);
        },
        async result(instructionId, body, signal) {
          const answer = await api.result(instructionId, body, signal);
          instructions.inc({ status: body.status });
          const since = started.get(instructionId);
          if (since !== undefined) {
            instructionSeconds.observe({ status: body.status }, (performance.now() - since) / 1000);
            started.delete(instructionId);
          }
          return answer;
        },
        sendEvents: (list, key, signal) => api.sendEvents(list, key, signal),
        get state() {
          return api.state;
        },
        close: () => api.close(),
      };
    },
  };
}
