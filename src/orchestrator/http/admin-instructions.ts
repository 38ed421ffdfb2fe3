/** Admin API: create, read, list and cancel instructions. */
import { Hono } from "hono";
import { INSTRUCTION_STATUSES } from "../../core/protocol/index.ts";
import { CreateInstructionSchema } from "../schemas.ts";
import type { Service } from "../service.ts";
import { isFinal, toAdmin } from "../store/_rows.ts";
import { ApiError, notFound, queryInt, readBody } from "./_errors.ts";

export function adminInstructionRoutes(service: Service) {
  const app = new Hono();
  // Reads show leases and expiry as of now, not as of the last delivery.
  const fresh = () => service.queue.sweep(service.now());

  app.post("/", async (c) => {
    const body = await readBody(c, CreateInstructionSchema);
    const key = c.req.header("idempotency-key") || undefined;
    const { row, created } = service.createInstruction(body, key);
    // A replayed key answers the instruction it made the first time, with 200 instead of 201.
    return c.json(toAdmin(row), created ? 201 : 200);
  });

  app.get("/", (c) => {
    const status = c.req.query("status") || undefined;
    if (status !== undefined && !(INSTRUCTION_STATUSES as readonly string[]).includes(status)) {
      throw new ApiError(400, "invalid_query", `status: expected one of ${INSTRUCTION_STATUSES.join(", ")}`, [{ field: "status", message: "unknown status" }]);
    }
    fresh();
    const rows = service.instructions.list({ agent_id: c.req.query("agent_id") || undefined, status, limit: queryInt(c, "limit", 1, 1000) });
    return c.json({ instructions: rows.map(toAdmin) });
  });

  app.get("/:id", (c) => {
    fresh();
    const row = service.instructions.get(c.req.param("id"));
    if (!row) throw notFound(`instruction "${c.req.param("id")}"`);
    return c.json(toAdmin(row));
  });

  app.post("/:id/cancel", (c) => {
    fresh();
    const id = c.req.param("id");
    const row = service.instructions.cancel(id, service.now());
    if (!row) throw notFound(`instruction "${id}"`);
    if (isFinal(row.status) && row.status !== "cancelled") {
      throw new ApiError(409, "already_finished", `instruction "${id}" already ended as ${row.status}`);
    }
    return c.json(toAdmin(row));
  });

  return app;
}
