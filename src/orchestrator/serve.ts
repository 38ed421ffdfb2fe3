/** The one place the orchestrator touches Bun.serve: plain HTTP or TLS, optionally verifying client certificates. */
import { readFileSync } from "node:fs";
import { errorMessage, StavilyError, usageError } from "../core/errors.ts";

export interface ServeOptions {
  hostname: string;
  /** 0 picks a free port; read it back from the returned server. */
  port: number;
  tls?: {
    certFile: string;
    keyFile: string;
    /** CA bundle that client certificates must chain to; when set, clients without one are refused. */
    clientCaFile?: string;
  };
  /** Longest request, in seconds; must outlast the longest long poll. */
  idleTimeoutSeconds: number;
}

function readPem(flag: string, file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw usageError("orchestrator", `${flag}: cannot read ${file}: ${errorMessage(error)}`, { cause: error });
  }
}

export function serve(fetch: (request: Request, server: Bun.Server<undefined>) => Response | Promise<Response>, options: ServeOptions): Bun.Server<undefined> {
  const tls = options.tls && {
    cert: readPem("--tls-cert", options.tls.certFile),
    key: readPem("--tls-key", options.tls.keyFile),
    ...(options.tls.clientCaFile
      ? { ca: readPem("--client-ca", options.tls.clientCaFile), requestCert: true, rejectUnauthorized: true }
      : {}),
  };
  try {
    return Bun.serve({
      hostname: options.hostname,
      port: options.port,
      // A long poll is silent for up to a minute; the idle timeout (Bun's default is 10 s) must not count
      // it as a dead connection. 255 is Bun's maximum.
      idleTimeout: Math.min(255, options.idleTimeoutSeconds),
      ...(tls ? { tls } : {}),
      fetch,
    });
  } catch (error) {
    throw new StavilyError("orchestrator", `cannot listen on ${options.hostname}:${options.port}: ${errorMessage(error)}`, { cause: error });
  }
}

/** Loopback names and addresses, where --insecure-dev is allowed. */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/** `host:port`, `[v6]:port`; the port may be 0. */
export function parseListen(text: string): { hostname: string; port: number } | undefined {
  const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(text.trim());
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port > 65535) return undefined;
  return { hostname: match[1]!.replace(/^\[|\]$/g, ""), port };
}
