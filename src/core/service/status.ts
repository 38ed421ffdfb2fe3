/**
 * `stavily service list` and `service status`: what is installed, what the service manager says
 * about it, and what the agent itself answers on its health port.
 */
import { findInstalled, inspectInstance, type Installed } from "./_inventory.ts";
import { type InstanceRef, layoutFor, type ServicePlatform } from "./_layout.ts";
import { managerReport, managerState, type ManagerState } from "./_manager.ts";
import { usageError } from "../errors.ts";

export interface ListedInstance extends Installed {
  manager: ManagerState;
}

export function listInstances(platform: ServicePlatform, root: string): ListedInstance[] {
  return findInstalled(layoutFor(platform), root).map((item) => ({ ...item, manager: managerState(item.ref, platform) }));
}

export interface HealthAnswer {
  url: string;
  /** HTTP status, or undefined when nothing answered. */
  status?: number;
  /** `reasons` of a 503 /ready, or the connection error. */
  detail: string;
}

export interface InstanceStatus {
  instance: Installed;
  manager: ManagerState;
  /** `systemctl status` or `launchctl print` output, when the manager answers. */
  report?: string;
  /** Undefined when the config serves no health endpoint on a fixed port. */
  health?: HealthAnswer;
  /** Why there is no health answer. */
  healthSkipped?: string;
  running: boolean;
}

const PROBE_TIMEOUT_MS = 3_000;

export async function instanceStatus(ref: InstanceRef, platform: ServicePlatform, root: string): Promise<InstanceStatus> {
  const instance = inspectInstance(layoutFor(platform), root, ref);
  if (!instance.hasConfig && !instance.hasUnit) throw usageError("service", `${ref.type} agent "${ref.id}" is not installed (no ${instance.configFile})`);
  const manager = managerState(ref, platform);
  const report = manager.available ? managerReport(ref, platform) : undefined;
  const status: InstanceStatus = { instance, manager, report, running: manager.available && manager.running };
  const health = instance.config?.health;
  if (!health) status.healthSkipped = `its config does not load: ${instance.configError ?? "missing"}`;
  else if (!health.enabled) status.healthSkipped = "health.enabled is false";
  else if (health.port === 0) status.healthSkipped = "health.port is 0 (a free port picked at each start): set one to probe it";
  else {
    const host = health.bind === "0.0.0.0" ? "127.0.0.1" : health.bind === "::" ? "::1" : health.bind;
    status.health = await probe(`http://${host.includes(":") ? `[${host}]` : host}:${health.port}/ready`);
    if (status.health.status === 200) status.running = true;
  }
  return status;
}

async function probe(url: string): Promise<HealthAnswer> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    const body = await response.text();
    let reasons: unknown;
    try {
      reasons = (JSON.parse(body) as { reasons?: unknown }).reasons;
    } catch {
      // Not JSON: the status code says enough.
    }
    return { url, status: response.status, detail: Array.isArray(reasons) ? reasons.join("; ") : "" };
  } catch (error) {
    return { url, detail: error instanceof Error ? error.message : String(error) };
  }
}
