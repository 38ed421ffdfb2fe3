/** Admin API: event rules. A rule applies to events stored after it was created. */
import { Hono } from "hono";
import { RuleSchema } from "../schemas.ts";
import type { Service } from "../service.ts";
import { notFound, readBody } from "./_errors.ts";

export function adminRuleRoutes(service: Service) {
  const app = new Hono();
  app.post("/", async (c) => c.json(service.rules.create(await readBody(c, RuleSchema), service.now()), 201));
  app.get("/", (c) => c.json({ rules: service.rules.list() }));
  app.get("/:id", (c) => {
    const rule = service.rules.get(c.req.param("id"));
    if (!rule) throw notFound(`rule "${c.req.param("id")}"`);
    return c.json(rule);
  });
  app.delete("/:id", (c) => {
    if (!service.rules.delete(c.req.param("id"))) throw notFound(`rule "${c.req.param("id")}"`);
    return c.body(null, 204);
  });
  return app;
}
