/**
 * The agent's health and metrics HTTP app (no listen: serve.ts does that; tests call app.request()).
 * /health and /ready stay open for probes; /status and /metrics need health.auth_token when it is set.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Hono, type MiddlewareHandler } from "hono";
import { redact } from "../redact.ts";
import { CONTENT_TYPE } from "./metrics.ts";
import type { Readiness } from "./readiness.ts";

export interface HealthAppOptions {
  /** health.path: the liveness probe. */
  healthPath: string;
  /** metrics.path, or undefined when this app serves no metrics (metrics.enabled false, or their own port). */
  metricsPath?: string;
  /** Read on each request, so a reloaded health.auth_token applies at once; "" leaves /status and /metrics open. */
  authToken: () => string;
  /** Serve only the metrics path (the separate server of metrics.port). */
  metricsOnly?: boolean;
  readiness: () => Readiness;
  /** The /status document, before redaction. */
  status: () => Promise<Record<string, unknown>>;
  metrics: () => Promise<string>;
}

export function createHealthApp(options: HealthAppOptions) {
  const app = new Hono();
  const guard = bearer(options.authToken);
  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((error, c) => c.json({ error: redact(error.message) }, 500));

  if (!options.metricsOnly) {
    // Answering at all is the liveness signal: the event loop runs.
    app.get(options.healthPath, (c) => c.json({ status: "ok" }));
    app.get("/ready", (c) => {
      const readiness = options.readiness();
      return c.json({ ready: readiness.ready, reasons: readiness.reasons }, readiness.ready ? 200 : 503);
    });
    app.get("/status", guard, async (c) => c.json(redact(await options.status())));
  }
  if (options.metricsPath) {
    app.get(options.metricsPath, guard, async (c) => c.body(await options.metrics(), 200, { "content-type": CONTENT_TYPE }));
  }
  return app;
}

/** `Authorization: Bearer <token>`, compared in constant time (through digests, so lengths do not leak). */
function bearer(token: () => string): MiddlewareHandler {
  return async (c, next) => {
    const expected = token();
    if (expected === "") return next();
    const given = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "")?.[1]?.trim() ?? "";
    if (given === "" || !sameSecret(given, expected)) {
      c.header("www-authenticate", 'Bearer realm="stavily"');
      return c.json({ error: given === "" ? "missing bearer token (health.auth_token)" : "wrong bearer token" }, 401);
    }
    return next();
  };
}

function sameSecret(a: string, b: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(a), digest(b));
}
