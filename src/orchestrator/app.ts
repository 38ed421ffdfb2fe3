/** The orchestrator's HTTP app (no listen: serve.ts does that; tests call app.request()). */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { buildInfo } from "../core/build-info.ts";
import { APP_DEFAULTS, type AppOptions } from "./_options.ts";
import { adminAuth } from "./auth/middleware.ts";
import { ApiError, renderError } from "./http/_errors.ts";
import { adminAgentRoutes } from "./http/admin-agents.ts";
import { adminInstructionRoutes } from "./http/admin-instructions.ts";
import { adminRuleRoutes } from "./http/admin-rules.ts";
import { agentRoutes } from "./http/agents.ts";
import { openApiDocument } from "./http/openapi.ts";
import type { Service } from "./service.ts";

export function createOrchestratorApp(service: Service, opts: Partial<AppOptions> & Pick<AppOptions, "adminToken">) {
  const options: AppOptions = { ...APP_DEFAULTS, ...opts };
  const app = new Hono();
  let document: Record<string, unknown> | undefined;

  app.onError((error, c) => {
    if (error instanceof ApiError) return renderError(c, error);
    // Only unexpected failures reach here: the client gets a generic message, the log gets the cause.
    options.reportError(error);
    return renderError(c, new ApiError(500, "internal", "internal error"));
  });
  app.notFound((c) => renderError(c, new ApiError(404, "not_found", `no route for ${c.req.method} ${c.req.path}`)));

  app.use("*", bodyLimit({ maxSize: options.maxBodyBytes, onError: (c) => renderError(c, new ApiError(413, "too_large", `the body is over ${options.maxBodyBytes} bytes`)) }));
  app.get("/healthz", (c) => c.json({ ok: true, waiting_polls: service.notifier.listening() }));
  app.get("/openapi.json", (c) => c.json((document ??= openApiDocument(buildInfo().version))));
  app.route("/agents/v1", agentRoutes(service, options));

  const admin = new Hono();
  admin.use("*", adminAuth(options.adminToken));
  admin.route("/instructions", adminInstructionRoutes(service));
  admin.route("/rules", adminRuleRoutes(service));
  admin.route("/", adminAgentRoutes(service, options));
  app.route("/api/v1", admin);
  return app;
}
export type OrchestratorApp = ReturnType<typeof createOrchestratorApp>;
