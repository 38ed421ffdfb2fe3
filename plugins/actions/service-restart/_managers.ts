/**
 * The service managers this plugin drives, each as argv lists (never a shell string) and a parser
 * of its status answer. Service names reach them only after the strict SERVICE_NAME check, and
 * come after `--` where the tool accepts it, so a name is never read as an option.
 */
import type { ExecResult } from "../../../src/sdk/index.ts";

export const MANAGERS = ["systemctl", "service", "launchctl", "sc", "docker"] as const;
export type ManagerName = (typeof MANAGERS)[number];
export type Change = "restart" | "start" | "stop";

/** Letters, digits, `@ . _ : -`, starting with a letter or digit: systemd units, SysV scripts, launchd labels, Windows service and container names. */
export const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9@._:-]{0,127}$/;

export interface ServiceState {
  /** What the manager said: active, inactive, failed, running, exited, STOPPED… */
  state: string;
  /** undefined while it is changing (activating, START_PENDING…) or unknown. */
  running: boolean | undefined;
}

export interface Manager {
  name: ManagerName;
  /** Executable name looked up on PATH (permissions.exec lists each). */
  binary: string;
  /** The commands of a change; undefined = no native restart (stop, wait until stopped, start). */
  change(op: Change, bin: string, service: string, options: ManagerOptions): string[] | undefined;
  probe(bin: string, service: string, options: ManagerOptions): string[];
  parse(result: ExecResult): ServiceState;
}

export interface ManagerOptions {
  /** launchctl domain: system, gui/<uid> or user/<uid>. */
  launchctlDomain: string;
}

const firstLine = (text: string) => text.trim().split("\n")[0]?.trim() ?? "";

const systemctl: Manager = {
  name: "systemctl",
  binary: "systemctl",
  // --no-ask-password: fail instead of waiting for a polkit prompt nobody will answer.
  change: (op, bin, service) => [bin, op, "--no-ask-password", "--", service],
  probe: (bin, service) => [bin, "is-active", "--", service],
  parse(result) {
    const state = firstLine(result.stdout) || "unknown";
    if (state === "active" || state === "reloading") return { state, running: true };
    if (state === "inactive" || state === "failed") return { state, running: false };
    return { state, running: undefined };
  },
};

const service: Manager = {
  name: "service",
  binary: "service",
  change: (op, bin, name) => [bin, name, op],
  probe: (bin, name) => [bin, name, "status"],
  // LSB status codes: 0 running, 1-3 not running, 4 unknown.
  parse(result) {
    if (result.exitCode === 0) return { state: "running", running: true };
    if (result.exitCode !== null && result.exitCode >= 1 && result.exitCode <= 3) return { state: "stopped", running: false };
    return { state: `unknown (exit ${result.exitCode ?? result.signal})`, running: undefined };
  },
};

const launchctl: Manager = {
  name: "launchctl",
  binary: "launchctl",
  change(op, bin, label, { launchctlDomain }) {
    const target = `${launchctlDomain}/${label}`;
    if (op === "restart") return [bin, "kickstart", "-k", target];
    if (op === "start") return [bin, "kickstart", target];
    return [bin, "kill", "SIGTERM", target];
  },
  probe: (bin, label, { launchctlDomain }) => [bin, "print", `${launchctlDomain}/${label}`],
  parse(result) {
    if (result.exitCode !== 0) return { state: "not loaded", running: false };
    const state = /^\s*state = (.+)$/m.exec(result.stdout)?.[1]?.trim() ?? "unknown";
    return { state, running: state === "running" ? true : state === "not running" || state === "exited" ? false : undefined };
  },
};

const sc: Manager = {
  name: "sc",
  binary: "sc.exe",
  change: (op, bin, name) => (op === "restart" ? undefined : [bin, op, name]),
  probe: (bin, name) => [bin, "query", name],
  parse(result) {
    const state = /STATE\s*:\s*\d+\s+(\w+)/.exec(result.stdout)?.[1] ?? (result.exitCode === 1060 ? "not installed" : "unknown");
    return { state, running: state === "RUNNING" ? true : state === "STOPPED" || state === "not installed" ? false : undefined };
  },
};

const docker: Manager = {
  name: "docker",
  binary: "docker",
  change: (op, bin, name) => [bin, op, "--", name],
  probe: (bin, name) => [bin, "inspect", "--format", "{{.State.Status}}", "--", name],
  parse(result) {
    if (result.exitCode !== 0) return { state: "not found", running: false };
    const state = firstLine(result.stdout) || "unknown";
    return { state, running: state === "running" ? true : ["exited", "created", "dead", "paused"].includes(state) ? false : undefined };
  },
};

export const MANAGER_BY_NAME: Record<ManagerName, Manager> = { systemctl, service, launchctl, sc, docker };

/**
 * What `manager: auto` tries, in order, on this OS. Docker is never guessed: a container name is
 * not a service name, so it must be chosen.
 */
export function candidates(platform: NodeJS.Platform): Manager[] {
  if (platform === "darwin") return [launchctl];
  if (platform === "win32") return [sc];
  return [systemctl, service];
}
