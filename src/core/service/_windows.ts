/**
 * Windows: the commands that register an agent with the Service Control Manager, printed for the
 * operator (or the installer package) to run; stavily never runs them itself.
 */
import { type InstanceRef, windowsServiceName } from "./_layout.ts";

export interface ScOptions {
  ref: InstanceRef;
  binary: string;
  configFile: string;
  /** `<base_dir>\\agent-<id>`: the service account gets modify rights on it, and on nothing else. */
  home: string;
}

const ACCOUNT = "NT AUTHORITY\\LocalService";

/**
 * Printed with the commands: the executable does not answer the SCM's start handshake yet, so sc.exe
 * alone registers a service that Windows stops after 30 s (error 1053).
 */
export const SCM_CAVEAT =
  "stavily.exe does not implement the Windows service control handshake yet: register this command line through a service wrapper (WinSW, NSSM) with the same account and restart policy, or sc.exe will report error 1053";

export function scCreateCommands({ ref, binary, configFile, home }: ScOptions): string[] {
  const name = windowsServiceName(ref);
  // binPath= is one argument to sc.exe: the quotes around paths inside it are escaped.
  const binPath = `\\"${binary}\\" ${ref.type} --config \\"${configFile}\\"`;
  return [
    `icacls "${home}" /grant "${ACCOUNT}:(OI)(CI)M"`,
    `icacls "${configFile}" /grant "${ACCOUNT}:R"`,
    `sc.exe create ${name} binPath= "${binPath}" start= delayed-auto obj= "${ACCOUNT}" DisplayName= "Stavily ${ref.type} agent ${ref.id}"`,
    `sc.exe description ${name} "Stavily ${ref.type} agent ${ref.id} (config ${configFile})"`,
    // Restart after 5 s, 5 s, then 60 s; the failure count resets after a day without one.
    `sc.exe failure ${name} reset= 86400 actions= restart/5000/restart/5000/restart/60000`,
    `sc.exe failureflag ${name} 1`,
    `sc.exe start ${name}`,
  ];
}

export function scDeleteCommands(ref: InstanceRef): string[] {
  const name = windowsServiceName(ref);
  return [`sc.exe stop ${name}`, `sc.exe delete ${name}`];
}
