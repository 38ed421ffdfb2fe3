/** The agents/v1 wire contract and its extensions, mounted at /agents/v1. Bodies use the shared schemas. */
import { Hono, type Context } from "hono";
import {
  EventsRequestSchema,
  HeartbeatRequestSchema,
  RegisterRequestSchema,
  ResultRequestSchema,
  UpdateRequestSchema,
  type PollResponse,
} from "../../core/protocol/index.ts";
import type { AppOptions } from "../_options.ts";
import { agentAuth } from "../auth/middleware.ts";
import type { Service } from "../service.ts";
import { toWire } from "../store/_rows.ts";
import { ApiError, notFound, queryInt, readBody } from "./_errors.ts";

export function agentRoutes(service: Service, options: AppOptions) {
  const app = new Hono();
  app.use("/:agent_id/*", agentAuth({ agents: service.agents, insecureDev: options.insecureDev, now: service.now }));
  const agentOf = (c: Context) => c.req.param("agent_id")!;

  app.post("/:agent_id/heartbeat", async (c) => {
    const body = await readBody(c, HeartbeatRequestSchema);
    service.agents.heartbeat(agentOf(c), body, service.now());
    return c.json({ cancel_instructions: service.queue.cancelRequested(agentOf(c)) });
  });

  app.post("/:agent_id/register", async (c) => {
    const body = await readBody(c, RegisterRequestSchema);
    service.agents.register(agentOf(c), body, service.now());
    return c.json({ registered: true, heartbeat_interval: options.heartbeatIntervalSeconds });
  });

  app.get("/:agent_id/instructions", async (c) => {
    const waitSeconds = queryInt(c, "wait", 0, options.maxWaitSeconds) ?? 0;
    return c.json(await poll(service, agentOf(c), waitSeconds * 1000, options, c.req.raw.signal));
  });

  app.put("/:agent_id/instructions/:instruction_id", async (c) => {
    const body = await readBody(c, UpdateRequestSchema);
    const id = c.req.param("instruction_id");
    const outcome = service.queue.update(agentOf(c), id, body, service.now());
    if (!outcome.found) throw notFound(`instruction "${id}" of agent "${agentOf(c)}"`);
    const { found: _, ...answer } = outcome;
    return c.json({ ...answer, instruction_id: id });
  });

  app.post("/:agent_id/instructions/:instruction_id/result", async (c) => {
    const body = await readBody(c, ResultRequestSchema);
    const id = c.req.param("instruction_id");
    const outcome = service.queue.finish(agentOf(c), id, body, service.now());
    if (!outcome.found) throw notFound(`instruction "${id}" of agent "${agentOf(c)}"`);
    // Chaining: the next instruction rides on the acknowledgement, saving the agent a poll.
    const next = service.queue.claimNext(agentOf(c), service.now());
    return c.json({ acknowledged: true, next_instruction: next ? toWire(next) : null });
  });

  app.post("/:agent_id/events", async (c) => {
    const body = await readBody(c, EventsRequestSchema);
    const key = c.req.header("idempotency-key");
    if (key !== undefined && (key.length === 0 || key.length > 200)) throw new ApiError(400, "invalid_header", "Idempotency-Key: 1 to 200 characters");
    return c.json({ accepted: service.ingestEvents(agentOf(c), body.events, key) });
  });

  return app;
}

/**
 * Delivers at once if something is pending; otherwise waits for a notification, the earliest lease of
 * this agent to lapse (its instruction becomes deliverable again), the deadline, or the client leaving.
 */
export async function poll(service: Service, agentId: string, waitMs: number, options: AppOptions, signal?: AbortSignal): Promise<PollResponse> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const listener = service.notifier.listen(agentId);
    try {
      const row = service.queue.claimNext(agentId, service.now());
      if (row) return { instruction: toWire(row), status: "instruction_available", next_poll_interval: 0 };
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      const leaseEnd = service.queue.nextLeaseExpiry(agentId);
      const sleep = leaseEnd === null ? remaining : Math.min(remaining, Math.max(0, leaseEnd - service.now()) + 1);
      if ((await listener.wait(sleep, signal)) === "closed") break;
    } finally {
      listener.stop();
    }
  }
  return { instruction: null, status: "no_instructions", next_poll_interval: options.pollIntervalSeconds };
}
