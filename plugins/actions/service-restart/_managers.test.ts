import { expect, test } from "bun:test";
import type { ExecResult } from "../../../src/sdk/index.ts";
import { candidates, MANAGER_BY_NAME } from "./_managers.ts";

const answer = (exitCode: number, stdout = ""): ExecResult => ({ exitCode, signal: null, stdout, stderr: "", truncated: false, timedOut: false, aborted: false, durationMs: 1 });
const options = { launchctlDomain: "system" };

test("each manager's commands are argv lists with the name after any option", () => {
  const { systemctl, service, launchctl, sc, docker } = MANAGER_BY_NAME;
  expect(systemctl.change("restart", "systemctl", "nginx", options)).toEqual(["systemctl", "restart", "--no-ask-password", "--", "nginx"]);
  expect(service.change("stop", "service", "nginx", options)).toEqual(["service", "nginx", "stop"]);
  expect(launchctl.change("restart", "launchctl", "com.example.app", { launchctlDomain: "gui/501" })).toEqual(["launchctl", "kickstart", "-k", "gui/501/com.example.app"]);
  expect(launchctl.probe("launchctl", "com.example.app", options)).toEqual(["launchctl", "print", "system/com.example.app"]);
  expect(sc.change("restart", "sc.exe", "Spooler", options)).toBeUndefined();
  expect(sc.change("start", "sc.exe", "Spooler", options)).toEqual(["sc.exe", "start", "Spooler"]);
  expect(docker.probe("docker", "web", options)).toEqual(["docker", "inspect", "--format", "{{.State.Status}}", "--", "web"]);
});

test("status answers are read into running / stopped / changing", () => {
  const { systemctl, service, launchctl, sc, docker } = MANAGER_BY_NAME;
  expect(systemctl.parse(answer(0, "active\n"))).toEqual({ state: "active", running: true });
  expect(systemctl.parse(answer(3, "failed\n"))).toEqual({ state: "failed", running: false });
  expect(systemctl.parse(answer(3, "activating\n"))).toEqual({ state: "activating", running: undefined });
  expect(service.parse(answer(3))).toEqual({ state: "stopped", running: false });
  expect(service.parse(answer(4)).running).toBeUndefined();
  expect(launchctl.parse(answer(0, "system/com.example.app = {\n\tstate = running\n}"))).toEqual({ state: "running", running: true });
  expect(launchctl.parse(answer(113, "Could not find service"))).toEqual({ state: "not loaded", running: false });
  expect(sc.parse(answer(0, "SERVICE_NAME: Spooler\n        STATE              : 4  RUNNING\n"))).toEqual({ state: "RUNNING", running: true });
  expect(sc.parse(answer(0, "        STATE              : 2  START_PENDING\n")).running).toBeUndefined();
  expect(docker.parse(answer(0, "exited\n"))).toEqual({ state: "exited", running: false });
});

test("auto never guesses docker", () => {
  expect(candidates("linux").map((m) => m.name)).toEqual(["systemctl", "service"]);
  expect(candidates("darwin").map((m) => m.name)).toEqual(["launchctl"]);
  expect(candidates("win32").map((m) => m.name)).toEqual(["sc"]);
});
