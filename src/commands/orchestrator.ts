/**
 * `stavily orchestrator`: the reference orchestrator on embedded SQLite. Resolves to an exit code only
 * once the server has stopped (SIGTERM/SIGINT, or `runtime.signal` in tests).
 */
import { resolve } from "node:path";
import * as v from "valibot";
import { parseDuration } from "../core/config/units.ts";
import { usageError } from "../core/errors.ts";
import { createLogger, LOGGING_DEFAULTS } from "../core/log/index.ts";
import { APP_DEFAULTS, createOrchestrator, DEFAULT_MAX_DELIVERIES, generateToken, isLoopback, parseListen, readTokensFile, resolveDbPath, serve } from "../orchestrator/index.ts";

export interface OrchestratorFlags {
  db?: string;
  listen?: string;
  tokens?: string;
  insecureDev?: boolean;
  adminToken?: string;
  lease?: string | number;
  maxDeliveries?: string | number;
  tlsCert?: string;
  tlsKey?: string;
  clientCa?: string;
}

export interface OrchestratorRuntime {
  /** Stops the server like SIGTERM does. */
  signal?: AbortSignal;
  env?: Record<string, string | undefined>;
  cwd?: string;
}

// cac turns numeric-looking values into numbers; every flag here is text.
const Text = v.pipe(v.union([v.string(), v.number()], "expected a value"), v.transform(String), v.minLength(1, "must not be empty"));

const FlagsSchema = v.object({
  db: v.optional(Text, "./stavily-orchestrator.db"),
  listen: v.optional(v.pipe(Text, v.check((text) => parseListen(text) !== undefined, "expected host:port, e.g. 127.0.0.1:8000")), "127.0.0.1:8000"),
  tokens: v.optional(Text),
  insecureDev: v.optional(v.boolean("expected no value"), false),
  adminToken: v.optional(Text),
  lease: v.optional(v.pipe(Text, v.check((text) => (parseDuration(text) ?? 0) > 0, "expected a duration above 0, e.g. 60s or 500ms")), "60s"),
  maxDeliveries: v.optional(
    v.pipe(Text, v.check((text) => /^\d+$/.test(text) && Number.isSafeInteger(Number(text)) && Number(text) >= 1, "expected a whole number of at least 1, e.g. 10")),
    String(DEFAULT_MAX_DELIVERIES),
  ),
  tlsCert: v.optional(Text),
  tlsKey: v.optional(Text),
  clientCa: v.optional(Text),
});

const flagName = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

function checkFlags(flags: OrchestratorFlags) {
  const parsed = v.safeParse(FlagsSchema, flags);
  if (!parsed.success) {
    const details = parsed.issues.map((issue) => `${flagName(v.getDotPath(issue) ?? "")}: ${issue.message}`);
    throw usageError("orchestrator", "invalid flags", { details });
  }
  const f = parsed.output;
  if ((f.tlsCert === undefined) !== (f.tlsKey === undefined)) throw usageError("orchestrator", "--tls-cert and --tls-key go together");
  if (f.clientCa !== undefined && f.tlsCert === undefined) throw usageError("orchestrator", "--client-ca needs --tls-cert and --tls-key");
  const listen = parseListen(f.listen)!;
  if (f.insecureDev && !isLoopback(listen.hostname)) {
    throw usageError("orchestrator", `--insecure-dev accepts any agent token, so it is refused on ${listen.hostname}; listen on 127.0.0.1 or ::1`);
  }
  return { ...f, listen, leaseMs: parseDuration(f.lease)!, maxDeliveries: Number(f.maxDeliveries) };
}

export async function orchestratorCommand(flags: OrchestratorFlags, runtime: OrchestratorRuntime = {}): Promise<number> {
  const f = checkFlags(flags);
  const env = runtime.env ?? process.env;
  const tokens = f.tokens === undefined ? undefined : readTokensFile(resolve(runtime.cwd ?? process.cwd(), f.tokens));
  const givenAdminToken = f.adminToken ?? (env.STAVILY_ADMIN_TOKEN || undefined);
  const adminToken = givenAdminToken ?? generateToken("adm");
  const log = createLogger({ ...LOGGING_DEFAULTS }).child("orchestrator");
  const orchestrator = createOrchestrator({
    db: f.db,
    cwd: runtime.cwd,
    adminToken,
    leaseMs: f.leaseMs,
    maxDeliveries: f.maxDeliveries,
    tokens,
    insecureDev: f.insecureDev,
    reportError: (error) => log.error("request failed", error instanceof Error ? error : { error }),
  });
  let server: ReturnType<typeof serve>;
  try {
    server = serve(orchestrator.app.fetch, {
      ...f.listen,
      tls: f.tlsCert && f.tlsKey ? { certFile: f.tlsCert, keyFile: f.tlsKey, clientCaFile: f.clientCa } : undefined,
      idleTimeoutSeconds: APP_DEFAULTS.maxWaitSeconds + 30,
    });
  } catch (error) {
    orchestrator.close();
    await log.close();
    throw error;
  }

  const host = f.listen.hostname.includes(":") ? `[${f.listen.hostname}]` : f.listen.hostname;
  const url = `${f.tlsCert ? "https" : "http"}://${host}:${server.port}`;
  const dbPath = resolveDbPath(f.db, runtime.cwd);
  console.log(`stavily orchestrator listening on ${url} (db ${dbPath})`);
  // Written straight to stderr: the logger would (rightly) redact it, and the user needs to see it once.
  if (givenAdminToken === undefined) process.stderr.write(`admin API token (generated; set --admin-token or STAVILY_ADMIN_TOKEN to keep one): ${adminToken}\n`);
  log.info("started", { url, db: dbPath, lease_ms: f.leaseMs, max_deliveries: f.maxDeliveries, insecure_dev: f.insecureDev, tls: Boolean(f.tlsCert), client_ca: Boolean(f.clientCa) });
  if (f.insecureDev) log.warn("--insecure-dev: any non-empty agent token is accepted");

  const reason = await stopRequested(runtime.signal);
  log.info("stopping", { reason });
  // Waiting long polls answer "nothing" at once, so stop() does not wait a minute for them.
  orchestrator.service.notifier.close();
  await server.stop();
  orchestrator.close();
  log.info("stopped");
  await log.close();
  return 0;
}

function stopRequested(signal?: AbortSignal): Promise<string> {
  return new Promise((resolve) => {
    const done = (reason: string) => {
      process.off("SIGTERM", onTerm);
      process.off("SIGINT", onInt);
      signal?.removeEventListener("abort", onAbort);
      resolve(reason);
    };
    const onTerm = () => done("SIGTERM");
    const onInt = () => done("SIGINT");
    const onAbort = () => done("stop requested");
    process.on("SIGTERM", onTerm);
    process.on("SIGINT", onInt);
    if (signal?.aborted) return done("stop requested");
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
