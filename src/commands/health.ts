/**
 * `stavily health`: probes a running agent's /ready (or its liveness path with --live) and exits 0
 * on 200, 1 otherwise — never 2, which Docker's HEALTHCHECK reserves — printing one line.
 */
import { loadConfig } from "../core/config/index.ts";
import { errorMessage, StavilyError } from "../core/errors.ts";
import { toLoadOptions, type ConfigFlags } from "./config.ts";

export interface HealthFlags extends ConfigFlags {
  url?: string;
  live?: boolean;
  timeout?: string | number;
}

const DEFAULT_TIMEOUT_MS = 5_000;

export async function healthCommand(flags: HealthFlags): Promise<number> {
  let target: string;
  try {
    target = probeUrl(flags);
  } catch (error) {
    const details = error instanceof StavilyError ? error.details.map((line) => `\n  ${line}`).join("") : "";
    console.error(`stavily health: ${errorMessage(error)}${details}`);
    return 1;
  }
  const timeoutMs = flags.timeout === undefined ? DEFAULT_TIMEOUT_MS : Number(flags.timeout) * 1000;
  try {
    const response = await fetch(target, { signal: AbortSignal.timeout(Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : DEFAULT_TIMEOUT_MS) });
    const body = await response.text();
    if (response.status === 200) {
      console.log(`ok: ${target} answered 200`);
      return 0;
    }
    console.log(`not ${flags.live ? "live" : "ready"}: ${target} answered ${response.status}${reasons(body)}`);
    return 1;
  } catch (error) {
    console.log(`not ${flags.live ? "live" : "ready"}: ${target}: ${errorMessage(error)}`);
    return 1;
  }
}

/** --url as given (its path kept when it has one), else health.bind and health.port from the config. */
function probeUrl(flags: HealthFlags): string {
  const probePath = (livePath: string) => (flags.live ? livePath : "/ready");
  if (flags.url) {
    const url = new URL(flags.url);
    if (url.pathname !== "/" && url.pathname !== "") return url.toString();
    const livePath = flags.config ? loadConfig(toLoadOptions(flags)).config.health.path : "/health";
    return new URL(probePath(livePath), url).toString();
  }
  const { health } = loadConfig(toLoadOptions(flags)).config;
  if (!health.enabled) throw new Error("health.enabled is false in the config: the agent serves no health endpoints");
  if (health.port === 0) {
    throw new Error('health.port is 0 (the agent picks a free port and logs "health server listening on …"); pass --url with that address, or set health.port');
  }
  // An agent listening on every address answers on loopback.
  const host = health.bind === "0.0.0.0" ? "127.0.0.1" : health.bind === "::" ? "::1" : health.bind;
  return `http://${host.includes(":") ? `[${host}]` : host}:${health.port}${probePath(health.path)}`;
}

function reasons(body: string): string {
  try {
    const parsed = JSON.parse(body) as { reasons?: unknown };
    return Array.isArray(parsed.reasons) && parsed.reasons.length > 0 ? `: ${parsed.reasons.join("; ")}` : "";
  } catch {
    return "";
  }
}
