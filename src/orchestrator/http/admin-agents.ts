/** Admin API: agents with their liveness, token rotation, and the events they reported. */
import { Hono } from "hono";
import { SEVERITIES } from "../../core/protocol/index.ts";
import type { AppOptions } from "../_options.ts";
import { generateToken, hashToken } from "../auth/tokens.ts";
import type { Service } from "../service.ts";
import type { AgentRow } from "../store/agents.ts";
import { ApiError, queryInt } from "./_errors.ts";

export type Liveness = "online" | "stale" | "offline";

/**
 * online within 3 heartbeat intervals, stale up to 10, offline beyond, never seen beating, or when the
 * agent's last heartbeat said it was going offline (its goodbye on shutdown).
 */
export function liveness(lastHeartbeat: number | null, reported: string | null, now: number, intervalSeconds: number): Liveness {
  if (lastHeartbeat === null || reported === "offline") return "offline";
  const age = now - lastHeartbeat;
  if (age <= 3 * intervalSeconds * 1000) return "online";
  if (age <= 10 * intervalSeconds * 1000) return "stale";
  return "offline";
}

function present(row: AgentRow, now: number, options: AppOptions) {
  const registration = row.registration === null ? null : (JSON.parse(row.registration) as Record<string, unknown>);
  const heartbeat = row.heartbeat === null ? null : (JSON.parse(row.heartbeat) as Record<string, unknown>);
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: row.id,
    status: liveness(row.last_heartbeat_at, row.reported_status, now, options.heartbeatIntervalSeconds),
    reported_status: row.reported_status,
    last_heartbeat_at: iso(row.last_heartbeat_at),
    first_seen_at: iso(row.first_seen_at),
    registered_at: iso(row.registered_at),
    // The registration's main fields at the top, for lists; the whole body below.
    agent_type: registration?.agent_type ?? null,
    name: registration?.name ?? null,
    version: registration?.version ?? heartbeat?.version ?? null,
    hostname: registration?.hostname ?? null,
    os: registration?.os ?? null,
    arch: registration?.arch ?? null,
    registration,
    plugins: registration?.plugins ?? heartbeat?.plugins ?? [],
    last_heartbeat: heartbeat,
  };
}

export function adminAgentRoutes(service: Service, options: AppOptions) {
  const app = new Hono();

  app.get("/agents", (c) => {
    const now = service.now();
    return c.json({ agents: service.agents.list().map((row) => present(row, now, options)) });
  });

  app.post("/agents/:id/token", (c) => {
    const agentId = c.req.param("id");
    if (agentId.length > 200) throw new ApiError(400, "invalid_path", "agent id: at most 200 characters");
    const token = generateToken();
    service.agents.setTokenHash(agentId, hashToken(token), "admin", service.now());
    // The only time the token is shown: the database keeps its hash.
    return c.json({ agent_id: agentId, token }, 201);
  });

  app.get("/events", (c) => {
    const severity = c.req.query("severity") || undefined;
    if (severity !== undefined && !(SEVERITIES as readonly string[]).includes(severity)) {
      throw new ApiError(400, "invalid_query", `severity: expected one of ${SEVERITIES.join(", ")}`, [{ field: "severity", message: "unknown severity" }]);
    }
    const sinceText = c.req.query("since") || undefined;
    const since = sinceText === undefined ? undefined : Date.parse(sinceText);
    if (since !== undefined && Number.isNaN(since)) {
      throw new ApiError(400, "invalid_query", "since: expected an RFC 3339 timestamp", [{ field: "since", message: "expected an RFC 3339 timestamp" }]);
    }
    const events = service.events.list({
      agent_id: c.req.query("agent_id") || undefined,
      type: c.req.query("type") || undefined,
      severity,
      since,
      limit: queryInt(c, "limit", 1, 1000),
    });
    return c.json({ events });
  });

  return app;
}
