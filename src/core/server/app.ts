/**
 * The agent's health and metrics HTTP app (no listen: serve.ts does that; tests call app.request()).
 * /health and /ready stay open for probes; /status and /metrics need health.auth_token when it is set.
 * With debug.enabled, /debug/heap and /debug/profile answer loopback clients only (and need the token too).
 */
import { profile } from "bun:jsc";
import { createHash, timingSafeEqual } from "node:crypto";
import { Hono, type MiddlewareHandler } from "hono";
import * as v from "valibot";
import { redact } from "../redact.ts";
import { CONTENT_TYPE } from "./metrics.ts";
import type { Readiness } from "./readiness.ts";
import type { ServeEnv } from "./serve.ts";

/** serve.ts passes the ServeEnv; app.request() in tests passes its own (none: the peer is unknown, so not loopback). */
type HealthEnv = { Bindings: ServeEnv | undefined };

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
  /** debug.enabled, read on each request; false or absent: /debug/* are 404. */
  debug?: () => boolean;
}

const SECONDS = "expected a whole number of seconds from 1 to 60";
const ProfileQuery = v.object({
  seconds: v.optional(v.pipe(v.string(), v.regex(/^\d{1,2}$/, SECONDS), v.transform(Number), v.minValue(1, SECONDS), v.maxValue(60, SECONDS)), "10"),
});

export function createHealthApp(options: HealthAppOptions) {
  const app = new Hono<HealthEnv>();
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
    if (options.debug) debugRoutes(app, options.debug, guard);
  }
  if (options.metricsPath) {
    app.get(options.metricsPath, guard, async (c) => c.body(await options.metrics(), 200, { "content-type": CONTENT_TYPE }));
  }
  return app;
}

/**
 * GET /debug/heap: a V8-format heap snapshot (JSON; Chrome DevTools or VS Code open it), taken synchronously.
 * GET /debug/profile?seconds=N: JavaScriptCore's sampling profiler over the whole JS thread for N seconds
 * (1..60, default 10), as JSON: bun:jsc's SamplingProfile (functions, bytecodes, stackTraces). One at a time.
 */
function debugRoutes(app: Hono<HealthEnv>, enabled: () => boolean, guard: MiddlewareHandler<HealthEnv>) {
  const loopbackOnly: MiddlewareHandler<HealthEnv> = async (c, next) => {
    if (!enabled()) return c.notFound();
    const address = c.env?.remoteAddress;
    if (address === undefined || !isLoopbackAddress(address)) {
      return c.json({ error: `${c.req.path} answers loopback clients only (debug.enabled); this one is ${address ?? "of unknown address"}` }, 403);
    }
    return next();
  };
  const stamp = () => new Date().toISOString().replace(/[:.]/g, "-");
  let profiling = false;

  app.get("/debug/heap", loopbackOnly, guard, (c) =>
    c.body(Bun.generateHeapSnapshot("v8", "arraybuffer"), 200, {
      "content-type": "application/json",
      "content-disposition": `attachment; filename="stavily-${process.pid}-${stamp()}.heapsnapshot"`,
    }),
  );

  app.get("/debug/profile", loopbackOnly, guard, async (c) => {
    const query = v.safeParse(ProfileQuery, c.req.query());
    if (!query.success) {
      const issue = query.issues[0];
      return c.json({ error: `${v.getDotPath(issue) ?? "query"}: ${issue.message}, got ${JSON.stringify(issue.input)}` }, 400);
    }
    if (profiling) return c.json({ error: "a CPU profile is already being taken; try again when it is done" }, 409);
    const { seconds } = query.output;
    profiling = true;
    try {
      // Silent for up to a minute: without this, Bun resets the connection after its 10 s idle timeout.
      c.env?.allowIdle?.(seconds + 30);
      const result = await profile(() => Bun.sleep(seconds * 1000), 1000);
      return c.body(JSON.stringify({ seconds, ...result }), 200, {
        "content-type": "application/json",
        "content-disposition": `attachment; filename="stavily-${process.pid}-${stamp()}.cpuprofile.json"`,
      });
    } finally {
      profiling = false;
    }
  });
}

/** A peer address on this machine: 127.0.0.0/8, ::1, or either mapped into IPv6. */
export function isLoopbackAddress(address: string): boolean {
  const host = address.toLowerCase().replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const v4 = host.replace(/^::ffff:(?=\d+\.)/, "");
  return /^127(\.\d{1,3}){3}$/.test(v4) || host === "::1" || host === "0:0:0:0:0:0:0:1";
}

/** `Authorization: Bearer <token>`, compared in constant time (through digests, so lengths do not leak). */
function bearer(token: () => string): MiddlewareHandler<HealthEnv> {
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
