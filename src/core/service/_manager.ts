/**
 * Asking the service manager about an instance: systemctl on Linux, launchctl on macOS, sc.exe on
 * Windows. Read-only, with a deadline; "unavailable" (not installed, or not the init system, as in
 * most containers) is an answer, not an error.
 */
import { spawnSync } from "node:child_process";
import { type InstanceRef, launchdLabel, type ServicePlatform, unitName, windowsServiceName } from "./_layout.ts";

export type ManagerState =
  | { available: true; /** e.g. active, inactive, failed (systemd); loaded, not loaded (launchd). */ state: string; running: boolean }
  | { available: false; reason: string };

const DEADLINE_MS = 5_000;

interface Query {
  tool: string;
  args: string[];
  /** How the tool's answer reads; undefined: the tool cannot answer here. */
  read(result: { status: number | null; stdout: string; stderr: string }): { state: string; running: boolean } | undefined;
}

function query(ref: InstanceRef, platform: ServicePlatform): Query {
  if (platform === "linux") {
    return {
      tool: "systemctl",
      args: ["is-active", unitName(ref)],
      // "System has not been booted with systemd" leaves stdout empty.
      read: ({ stdout }) => {
        const state = stdout.trim().split("\n")[0] ?? "";
        return state ? { state, running: state === "active" || state === "reloading" } : undefined;
      },
    };
  }
  if (platform === "darwin") {
    return {
      tool: "launchctl",
      args: ["print", `system/${launchdLabel(ref)}`],
      read: ({ status, stdout }) => (status === 0 ? { state: /state = running/.test(stdout) ? "running" : "loaded", running: /state = running/.test(stdout) } : { state: "not loaded", running: false }),
    };
  }
  return {
    tool: "sc.exe",
    args: ["query", windowsServiceName(ref)],
    read: ({ status, stdout }) => (status === 0 ? { state: /RUNNING/.test(stdout) ? "running" : "stopped", running: /RUNNING/.test(stdout) } : { state: "not registered", running: false }),
  };
}

export function managerState(ref: InstanceRef, platform: ServicePlatform): ManagerState {
  const { tool, args, read } = query(ref, platform);
  const found = run(tool, args);
  if ("missing" in found) return { available: false, reason: found.missing };
  const answer = read(found);
  if (!answer) return { available: false, reason: `${tool} cannot answer here: ${firstLine(found.stderr) || `exit code ${found.status}`}` };
  return { available: true, ...answer };
}

/** The manager's own report (`systemctl status`, `launchctl print`), for `service status`. */
export function managerReport(ref: InstanceRef, platform: ServicePlatform): string | undefined {
  const [tool, args] =
    platform === "linux" ? ["systemctl", ["status", "--no-pager", "--lines=10", unitName(ref)]] : platform === "darwin" ? ["launchctl", ["print", `system/${launchdLabel(ref)}`]] : ["sc.exe", ["queryex", windowsServiceName(ref)]];
  const found = run(tool as string, args as string[]);
  return "missing" in found ? undefined : (found.stdout + found.stderr).trimEnd();
}

type RunResult = { missing: string } | { status: number | null; stdout: string; stderr: string };

function run(tool: string, args: string[]): RunResult {
  const result = spawnSync(tool, args, { encoding: "utf8", timeout: DEADLINE_MS });
  if (result.error) {
    const missing = (result.error as NodeJS.ErrnoException).code === "ENOENT";
    return { missing: missing ? `${tool} is not installed here` : `${tool} did not answer: ${result.error.message}` };
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0] ?? "";
}
