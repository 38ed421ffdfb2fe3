/**
 * The connection settings: which base URLs are acceptable, and a Bun fetch session that carries
 * the TLS options (CA, mutual-TLS client certificate, server name, lowest version) and the
 * keep-alive pool limits. The only Bun-specific part of the API client.
 */
import { constants, createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { assertPrivateFile } from "../secret-file.ts";
import type { Config } from "../config/index.ts";
import { usageError } from "../errors.ts";
import type { Logger } from "../log/index.ts";

export interface Transport {
  fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  close(): void;
}

/** The validated base URL, without a trailing slash. Plain http:// only to this machine unless allowed. */
export function checkBaseUrl(api: Config["api"], logger?: Logger): string {
  let url: URL;
  try {
    url = new URL(api.base_url);
  } catch (error) {
    throw usageError("api", `api.base_url ${api.base_url} is not a URL`, { cause: error });
  }
  if (url.protocol === "http:" && !isLoopback(url.hostname)) {
    if (!api.allow_insecure) {
      throw usageError("api", `api.base_url ${url.origin} is plain http:// to another machine: the token would travel unencrypted`, {
        details: ["use https://, or set api.allow_insecure: true if the network is trusted"],
      });
    }
    logger?.warn("api.base_url is plain http:// to another machine (api.allow_insecure is set); the token travels unencrypted", { base_url: url.origin });
  }
  return url.href.replace(/\/+$/, "");
}

export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * BoringSSL has no minimum-version setting in Bun's fetch; switching the older protocols off with
 * SSL_OP_NO_* has the same effect (checked against an `openssl s_server -tls1_2`).
 */
function secureOptions(minVersion: "1.2" | "1.3"): number {
  const below12 = constants.SSL_OP_NO_TLSv1 | constants.SSL_OP_NO_TLSv1_1;
  return minVersion === "1.3" ? below12 | constants.SSL_OP_NO_TLSv1_2 : below12;
}

/**
 * With security.tls.enabled, each call first stats the CA, certificate and key files (one stat
 * each, like the token file); a changed file is read again and later calls use a new session. A
 * file that cannot be read or parsed (half-way through being replaced) keeps the previous session
 * and is tried again at the next call.
 */
export function createTransport(config: Config, logger?: Logger): Transport {
  const tls = config.security.tls;
  const configured = Boolean(tls.cert_file || tls.key_file || tls.ca_file || tls.server_name || tls.insecure_skip_verify);
  if (!tls.enabled && configured) logger?.warn("security.tls.* is set but security.tls.enabled is false; those settings are ignored");
  if (tls.enabled && (!tls.cert_file !== !tls.key_file)) {
    throw usageError("api", "mutual TLS needs both security.tls.cert_file and security.tls.key_file");
  }
  const files = tls.enabled ? [tls.ca_file, tls.cert_file, tls.key_file].filter((file): file is string => Boolean(file)) : [];
  // Taken before the files are read: a change in between is seen at the next call.
  let signature = filesSignature(files);
  let session = createSession(config, tlsOptions(tls, false, logger));
  let failedSignature = "";

  function refresh(): void {
    const next = filesSignature(files);
    if (next === signature) return;
    try {
      const fresh = createSession(config, tlsOptions(tls, true));
      session.close(); // only its idle connections: requests in flight finish
      session = fresh;
      signature = next;
      failedSignature = "";
      logger?.info("TLS files changed; reloaded", { files });
    } catch (error) {
      // Keep the last good session; log once per state of the files, try again at the next call.
      if (failedSignature !== next) logger?.warn("cannot reload the TLS files; keeping the previous ones", { files, error: error as Error });
      failedSignature = next;
    }
  }

  return {
    fetch(input, init) {
      if (files.length > 0) refresh();
      return session.fetch(input, init);
    },
    close: () => session.close(),
  };
}

/** The TLS options from the files; `validate` parses them too, as Bun only does so at the first connection. */
function tlsOptions(tls: Config["security"]["tls"], validate: boolean, logger?: Logger): BunFetchRequestInitTLS {
  const options: BunFetchRequestInitTLS = { secureOptions: secureOptions(tls.min_version) };
  if (!tls.enabled) return options;
  if (tls.ca_file) options.ca = readPem(tls.ca_file, "security.tls.ca_file");
  if (tls.cert_file) options.cert = readPem(tls.cert_file, "security.tls.cert_file");
  if (tls.key_file) {
    assertPrivateFile(tls.key_file, "security.tls.key_file");
    options.key = readPem(tls.key_file, "security.tls.key_file");
  }
  if (validate) {
    try {
      if (options.ca) new X509Certificate(options.ca as string);
      if (options.cert && options.key && !new X509Certificate(options.cert as string).checkPrivateKey(createPrivateKey(options.key as string))) {
        throw new Error("the key does not match the certificate");
      }
    } catch (error) {
      throw usageError("api", `invalid TLS files: ${(error as Error).message}`, { cause: error });
    }
  }
  if (tls.server_name) options.serverName = tls.server_name;
  if (tls.insecure_skip_verify) {
    options.rejectUnauthorized = false;
    logger?.warn("security.tls.insecure_skip_verify is set: the orchestrator's certificate is not checked");
  }
  return options;
}

function createSession(config: Config, tls: BunFetchRequestInitTLS): Bun.FetchSession {
  const idleSeconds = Math.round(config.api.idle_conn_timeout / 1000);
  return new Bun.FetchSession({
    tls,
    keepAlive: config.api.max_idle_conns > 0 && idleSeconds > 0 ? { idleTimeout: idleSeconds, maxIdleSockets: config.api.max_idle_conns } : false,
  });
}

function filesSignature(files: string[]): string {
  return files
    .map((file) => {
      try {
        const stat = statSync(file);
        return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
      } catch {
        return "missing";
      }
    })
    .join("|");
}

function readPem(file: string, setting: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw usageError("api", `cannot read ${setting} ${file}: ${(error as Error).message}`, { cause: error });
  }
}
