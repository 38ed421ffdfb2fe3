/**
 * The two measurements: one HTTP request through ctx.fetch (status, time to headers), and one TLS
 * handshake to the same host and port to read the server's certificate.
 *
 * Why a handshake of its own: Bun's fetch shows the certificate only to tls.checkServerIdentity,
 * which runs after the chain verified, and not at all with rejectUnauthorized false, so an
 * expired or self-signed certificate (the case that matters most) never reaches it. node:tls with
 * rejectUnauthorized false reads any certificate; nothing is sent over that connection.
 */
import { isIP } from "node:net";
import { connect } from "node:tls";
import type { PluginContext } from "../../../src/sdk/index.ts";
import type { HttpCheckConfig } from "./_schema.ts";

export type HttpProbe =
  | { up: true; status: number; latencyMs: number }
  | { up: false; reason: "status"; status: number; latencyMs: number }
  | { up: false; reason: "timeout" | "error"; error: string; latencyMs: number };

/** Down for a wrong status, a network error or a timeout; throws only for refusals and aborts of the call itself. */
export async function probeHttp(ctx: PluginContext<HttpCheckConfig>, url: URL): Promise<HttpProbe> {
  const { config } = ctx;
  const deadline = AbortSignal.timeout(config.timeout_ms);
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let response: Response;
  try {
    response = await ctx.fetch(url, {
      method: config.method,
      redirect: "manual",
      signal: deadline,
      headers: { "user-agent": "stavily-http-check" },
      ...(!config.tls_verify && { tls: { rejectUnauthorized: false } }),
    });
  } catch (error) {
    if ((error as { code?: string }).code === "permission_denied" || ctx.signal.aborted) throw error;
    if (deadline.aborted) return { up: false, reason: "timeout", error: `no response within ${config.timeout_ms} ms`, latencyMs: elapsed() };
    return { up: false, reason: "error", error: (error as Error)?.message ?? String(error), latencyMs: elapsed() };
  }
  const latencyMs = elapsed();
  await response.body?.cancel().catch(() => {}); // only the status matters; do not download the body
  const expected = config.expected_status;
  const ok = expected.length > 0 ? expected.includes(response.status) : response.status >= 200 && response.status < 400;
  return ok ? { up: true, status: response.status, latencyMs } : { up: false, reason: "status", status: response.status, latencyMs };
}

export interface PeerCertificate {
  validTo: Date;
  subject: string;
  issuer: string;
  /** Whether the chain verified against the system's CAs (informational). */
  trusted: boolean;
  trustError?: string;
}

/** The certificate the server at url's host and port presents (SNI set for names, not for addresses). */
export function readCertificate(url: URL, timeoutMs: number, signal: AbortSignal): Promise<PeerCertificate> {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(url.port || 443);
  if (signal.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, rejectUnauthorized: false, ...(isIP(host) === 0 && { servername: host }) });
    const finish = (error?: Error, value?: PeerCertificate) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      socket.destroy();
      if (error) reject(error);
      else resolve(value!);
    };
    const onAbort = () => finish(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    const timer = setTimeout(() => finish(new Error(`TLS handshake with ${host}:${port}: no answer within ${timeoutMs} ms`)), timeoutMs);
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("error", (error) => finish(new Error(`TLS handshake with ${host}:${port}: ${error.message}`, { cause: error })));
    socket.once("secureConnect", () => {
      const cert = socket.getPeerCertificate();
      const validTo = cert?.valid_to ? new Date(cert.valid_to) : undefined;
      if (!validTo || Number.isNaN(validTo.getTime())) return finish(new Error(`TLS handshake with ${host}:${port}: the server presented no certificate with an expiry date`));
      const error = socket.authorizationError;
      finish(undefined, {
        validTo,
        subject: nameOf(cert.subject),
        issuer: nameOf(cert.issuer),
        trusted: socket.authorized,
        ...(error && { trustError: String(error) }),
      });
    });
  });
}

function nameOf(name: Record<string, unknown> | undefined): string {
  if (!name) return "";
  const cn = name.CN;
  return typeof cn === "string" ? cn : Object.entries(name).map(([key, value]) => `${key}=${value}`).join(", ");
}
