/**
 * Where requests go and with which headers, from the config and the granted secrets. Whatever is
 * shown in errors and logs is `label`: the URL's origin, never its path or query (a webhook URL is
 * often a credential), and no header value.
 */
import type { PluginContext } from "../../../src/sdk/index.ts";
import type { WebhookConfig } from "./_config.ts";

export interface Target {
  url: string;
  headers: Record<string, string>;
  /** `https://host:port` — safe to log. */
  label: string;
  /** The URL and every header value (secrets resolved), to scrub from text that may echo one. */
  secrets: string[];
}

const REFERENCE = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;

export function resolveTarget(ctx: PluginContext<WebhookConfig>): Target {
  const { config } = ctx;
  const secrets: string[] = [];
  let url = config.url;
  if (config.url_env !== "") {
    url = ctx.secret(config.url_env) ?? "";
    if (url === "") throw webhookError("not_configured", `url_env ${config.url_env} is not granted in plugins.secrets.webhook or not set in the agent's environment`);
    if (!/^https?:\/\//i.test(url) || !URL.canParse(url)) throw webhookError("not_configured", `url_env ${config.url_env} does not hold an http(s) URL`);
    secrets.push(url);
  }
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8" };
  for (const [name, template] of Object.entries(config.headers)) {
    headers[name.toLowerCase()] = template.replace(REFERENCE, (_match, env: string) => {
      const value = ctx.secret(env);
      if (value === undefined) throw webhookError("not_configured", `headers.${name}: \${env:${env}} is not granted in plugins.secrets.webhook or not set in the agent's environment`);
      secrets.push(value);
      return value;
    });
    const value = headers[name.toLowerCase()]!;
    if (/[\r\n\0]/.test(value)) throw webhookError("not_configured", `headers.${name}: the value holds a line break or NUL`);
    // A clear value in the config may be a credential too.
    secrets.push(value);
  }
  const parsed = new URL(url);
  return { url, headers, label: parsed.origin, secrets: [url, ...secrets].filter((value) => value.length >= 4) };
}

/** Error text with every secret and the full URL replaced by what may be shown. */
export function scrub(text: string, target: Target): string {
  let out = text;
  for (const secret of target.secrets) out = out.replaceAll(secret, secret === target.url ? target.label : "[redacted]");
  return out;
}

export type WebhookErrorCode = "not_configured" | "rejected" | "gave_up" | "aborted";

export function webhookError(code: WebhookErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}): Error & { code: WebhookErrorCode } {
  const error = Object.assign(new Error(`webhook: ${message}`, { cause: options.cause }), { code });
  if (options.retryable) Object.assign(error, { retryable: true });
  return error;
}
