/**
 * Test support for the API client: real configs from loadConfig, real HTTP(S) servers on
 * 127.0.0.1 that record every hit, a recording logger, and certificates made with openssl.
 * Tests wait on recorded hits (promises), never on sleeps.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig, type Config } from "../config/index.ts";
import type { Logger } from "../log/index.ts";
import { createApiClient } from "./client.ts";
import type { ApiClientOptions } from "./types.ts";
import { tempDirs as makeTempDirs } from "../../../test/support/temp.ts";

export const TOKEN = "test-token-0123456789";

export const tempDirs = () => makeTempDirs("stavily-api-");

/** A real config: defaults, then `set`, through the loader. Fast retries and a loose rate limit unless set. */
export function makeConfig(baseDir: string, baseUrl: string, set: string[] = []): Config {
  const defaults = [`agent.base_dir=${baseDir}`, "agent.id=agent-1", `api.base_url=${baseUrl}`, "api.retry_delay=10ms", "api.rate_limit_rps=1000"];
  const withToken = set.some((entry) => entry.startsWith("security.auth.")) ? [] : [`security.auth.api_key=${TOKEN}`];
  return loadConfig({ env: {}, type: "action", set: [...defaults, ...withToken, ...set] }).config;
}

export interface Hit {
  method: string;
  path: string;
  search: string;
  headers: Headers;
  body: string;
  at: number;
}

export type Handler = (request: Request, hit: Hit, index: number) => Response | Promise<Response>;

export interface TestServer {
  url: string;
  hits: Hit[];
  /** Resolves when the server has seen `count` hits. */
  waitForHits(count: number): Promise<void>;
  stop(): void;
}

export function startServer(handler: Handler, tls?: Bun.TLSOptions): TestServer {
  const hits: Hit[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls,
    async fetch(request) {
      const url = new URL(request.url);
      const hit: Hit = { method: request.method, path: url.pathname, search: url.search, headers: request.headers, body: await request.text(), at: Date.now() };
      const index = hits.push(hit) - 1;
      for (const waiter of waiters.filter((w) => hits.length >= w.count)) waiter.resolve();
      return handler(request, hit, index);
    },
  });
  return {
    url: `${tls ? "https" : "http"}://127.0.0.1:${server.port}`,
    hits,
    waitForHits: (count) => (hits.length >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve }))),
    stop: () => void server.stop(true),
  };
}

export const json = (body: unknown, init: ResponseInit = {}) => Response.json(body, init);
export const NO_INSTRUCTION = { instruction: null, status: "no_instructions" };

export interface LogLine {
  level: string;
  msg: string;
  fields?: Record<string, unknown> | Error;
}

export function recordingLogger(lines: LogLine[] = []): Logger & { lines: LogLine[] } {
  const at = (level: string) => (msg: string, fields?: Record<string, unknown> | Error) => void lines.push({ level, msg, fields });
  const logger = {
    lines,
    trace: at("trace"),
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    fatal: at("fatal"),
    child: () => logger,
    close: async () => {},
  };
  return logger;
}

export function makeClient(config: Config, extra: Partial<ApiClientOptions> = {}) {
  const logger = recordingLogger();
  const client = createApiClient({ config, agentType: "action", version: "0.0.0-test", logger, env: {}, ...extra });
  return { client, logger };
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with openssl. */
export function makeCertificates(dir: string) {
  const run = (...args: string[]) => {
    const result = Bun.spawnSync(["openssl", ...args], { cwd: dir, stderr: "pipe" });
    if (result.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr.toString()}`);
  };
  writeFileSync(join(dir, "san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=stavily-test-ca");
  for (const name of ["server", "client"]) {
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name === "server" ? "localhost" : "agent-1"}`);
    const ext = name === "server" ? ["-extfile", "san.ext"] : [];
    run("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", ...ext);
  }
  const file = (name: string) => join(dir, name);
  return { ca: file("ca.pem"), serverCert: file("server.pem"), serverKey: file("server.key"), clientCert: file("client.pem"), clientKey: file("client.key") };
}
