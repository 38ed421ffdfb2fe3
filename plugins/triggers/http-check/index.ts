/**
 * http-check: one URL per instance. Each detect requests it (status, time to headers) and, for
 * https, reads the server's certificate every tls_check_interval_s. Three conditions: http.down
 * (a status not expected, a network error, a timeout), http.slow (time to headers over
 * latency_threshold_ms), tls.expiring (fewer than tls_days_threshold days left). Each is reported
 * once when it starts and once, as `<type>.resolved`, when it clears; which are active is kept in
 * ctx.state, so a restart neither repeats an alert nor forgets to resolve it.
 */
import { defineTrigger, type DetectedEvent, type PluginContext, type Severity } from "../../../src/sdk/index.ts";
import { probeHttp, readCertificate, type HttpProbe, type PeerCertificate } from "./_probe.ts";
import { ConfigSchema, type HttpCheckConfig } from "./_schema.ts";

type Ctx = PluginContext<HttpCheckConfig>;
type Condition = "http.down" | "http.slow" | "tls.expiring";

const ACTIVE_KEY = "active";
const TLS_CHECKED_KEY = "tls_checked_at";
const DAY_MS = 86_400_000;

export default defineTrigger({
  configSchema: ConfigSchema,
  async detect(ctx) {
    const url = new URL(ctx.config.url);
    const shown = withoutCredentials(url);
    const active = ctx.state.get<Partial<Record<Condition, number>>>(ACTIVE_KEY) ?? {};
    const events: DetectedEvent[] = [];
    const now = Date.now();
    /** `holds` undefined: not measured this time, the condition stays as it is. */
    const observe = (condition: Condition, holds: boolean | undefined, severity: Severity, data: Record<string, unknown>) => {
      const since = active[condition];
      if (holds && since === undefined) {
        active[condition] = now;
        events.push({ type: condition, severity, data: { url: shown, ...data }, dedupe_key: `${condition}:${shown}` });
      } else if (holds === false && since !== undefined) {
        delete active[condition];
        const type = `${condition}.resolved`;
        // The condition's own key: the sensor ends that condition's cooldown on its .resolved event.
        events.push({ type, severity: "low", data: { url: shown, ...data, duration_ms: now - since }, dedupe_key: `${condition}:${shown}` });
      }
    };

    const http = await probeHttp(ctx, url);
    observe("http.down", !http.up, "high", describeHttp(http, ctx.config));
    const threshold = ctx.config.latency_threshold_ms;
    const answered = http.up || http.reason === "status";
    observe("http.slow", threshold > 0 && answered ? http.latencyMs > threshold : undefined, "medium", { latency_ms: http.latencyMs, threshold_ms: threshold });

    const certificate = await checkCertificate(ctx, url, now, !http.up && http.reason !== "status");
    if (certificate) {
      const daysLeft = Math.floor((certificate.validTo.getTime() - now) / DAY_MS);
      observe("tls.expiring", daysLeft < ctx.config.tls_days_threshold, daysLeft <= 0 ? "critical" : "high", {
        host: url.host,
        days_left: daysLeft,
        valid_to: certificate.validTo.toISOString(),
        threshold_days: ctx.config.tls_days_threshold,
        subject: certificate.subject,
        issuer: certificate.issuer,
        trusted: certificate.trusted,
        ...(certificate.trustError && { trust_error: certificate.trustError }),
      });
    }
    if (events.length > 0) ctx.state.set(ACTIVE_KEY, active);
    return events;
  },
});

/**
 * The certificate when a check is due (https, threshold on, interval passed); a failed handshake is
 * logged (at debug while the URL is unreachable anyway: http.down says why) and retried next time.
 */
async function checkCertificate(ctx: Ctx, url: URL, now: number, unreachable: boolean): Promise<PeerCertificate | undefined> {
  const { config } = ctx;
  if (url.protocol !== "https:" || config.tls_days_threshold === 0) return undefined;
  const last = ctx.state.get<number>(TLS_CHECKED_KEY);
  if (last !== undefined && now - last < config.tls_check_interval_s * 1000 && now >= last) return undefined;
  try {
    const certificate = await readCertificate(url, config.timeout_ms, ctx.signal);
    ctx.state.set(TLS_CHECKED_KEY, now);
    return certificate;
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    ctx.logger[unreachable ? "debug" : "warn"]("certificate check failed; retried at the next detect", { url: withoutCredentials(url), error: (error as Error).message });
    return undefined;
  }
}

function describeHttp(http: HttpProbe, config: HttpCheckConfig): Record<string, unknown> {
  const expected = config.expected_status.length > 0 ? config.expected_status : "2xx or 3xx";
  if (http.up) return { status: http.status, latency_ms: http.latencyMs };
  if (http.reason === "status") return { reason: "status", status: http.status, expected_status: expected, latency_ms: http.latencyMs };
  return { reason: http.reason, error: http.error, latency_ms: http.latencyMs };
}

/** Events and dedupe keys never carry a URL's user or password. */
function withoutCredentials(url: URL): string {
  if (!url.username && !url.password) return url.href;
  const copy = new URL(url);
  copy.username = "";
  copy.password = "";
  return copy.href;
}
