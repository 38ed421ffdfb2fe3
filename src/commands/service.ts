/**
 * `stavily service install|uninstall|list|status`: running agents as system services, several per
 * machine (systemd template units on Linux, launchd daemons on macOS, sc.exe commands on Windows).
 */
import path from "node:path";
import { EXIT, usageError } from "../core/errors.ts";
import {
  applyInstall, checkRef, instanceStatus, listInstances, planInstall, SERVICE_PLATFORMS, uninstall, type InstallPlan, type ServicePlatform,
} from "../core/service/index.ts";
import { onDisk } from "../core/service/_layout.ts";

export interface ServiceFlags {
  id?: string | number;
  config?: string;
  user?: string | number;
  binary?: string;
  /** Write under this directory instead of / (packaging, tests). */
  root?: string;
  dryRun?: boolean;
  force?: boolean;
  /** linux, darwin or win32 (default: this machine's); for packaging and tests. */
  platform?: string;
  purge?: boolean;
  json?: boolean;
}

export function installCommand(type: string, flags: ServiceFlags): number {
  const target = targetOf(flags);
  const plan = planInstall({
    ref: checkRef(type, text(flags.id, "--id")),
    ...target,
    configFile: flags.config,
    user: text(flags.user, "--user"),
    binary: flags.binary,
    force: flags.force,
  });
  for (const note of plan.notes) console.error(`note: ${note}`);
  if (flags.dryRun) {
    printDryRun(plan);
    return EXIT.ok;
  }
  applyInstall(plan);
  for (const file of plan.files) console.log(`wrote ${onDisk(plan.root, file.path)} (${mode(file.mode)} ${file.ownerName})`);
  console.log(`home ${onDisk(plan.root, plan.home)}${plan.account.uid === undefined ? "" : ` (${plan.account.user}:${plan.account.group})`}`);
  printNext(plan.layout.platform, plan.next);
  return EXIT.ok;
}

export function uninstallCommand(type: string, flags: ServiceFlags): number {
  const target = targetOf(flags);
  const result = uninstall({ ref: checkRef(type, text(flags.id, "--id")), ...target, purge: flags.purge, force: flags.force });
  for (const file of result.removed) console.log(`removed ${onDisk(target.root, file)}`);
  for (const file of result.kept) console.log(`kept ${onDisk(target.root, file)}${flags.purge ? "" : " (--purge removes it)"}`);
  if (result.next.length > 0) {
    console.log(target.platform === "win32" ? "then, as Administrator:" : "then:");
    for (const command of result.next) console.log(`  ${command}`);
  }
  return EXIT.ok;
}

export function listCommand(flags: ServiceFlags): number {
  const { platform, root } = targetOf(flags);
  const instances = listInstances(platform, root);
  const rows = instances.map((item) => ({
    type: item.ref.type,
    id: item.ref.id,
    status: !item.hasUnit && platform !== "win32" ? "no service file" : item.manager.available ? item.manager.state : "unknown",
    config: item.hasConfig ? onDisk(root, item.configFile) : null,
    unit: item.hasUnit ? onDisk(root, item.unitFile!) : null,
    home: item.home ? onDisk(root, item.home) : null,
    ...(item.configError ? { problem: item.configError } : {}),
  }));
  if (flags.json) {
    console.log(JSON.stringify(rows, null, 2));
    return EXIT.ok;
  }
  if (rows.length === 0) {
    console.log("no agents installed");
    return EXIT.ok;
  }
  const table = [["TYPE", "ID", "STATUS", "CONFIG", "HOME"], ...rows.map((row) => [row.type, row.id, row.status, row.config ?? "-", row.home ?? "-"])];
  const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  for (const row of table) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd());
  for (const row of rows) if (row.problem) console.error(`${row.type} ${row.id}: ${row.problem}`);
  const unavailable = instances.find((item) => !item.manager.available)?.manager;
  if (unavailable && !unavailable.available) console.error(`status unknown: ${unavailable.reason}`);
  return EXIT.ok;
}

export async function statusCommand(type: string, flags: ServiceFlags): Promise<number> {
  const { platform, root } = targetOf(flags);
  const status = await instanceStatus(checkRef(type, text(flags.id, "--id")), platform, root);
  const { instance, manager } = status;
  console.log(`${instance.ref.type} agent "${instance.ref.id}"`);
  console.log(`  config  ${instance.hasConfig ? onDisk(root, instance.configFile) : `missing (${onDisk(root, instance.configFile)})`}`);
  if (instance.unitFile) console.log(`  unit    ${instance.hasUnit ? onDisk(root, instance.unitFile) : `missing (${onDisk(root, instance.unitFile)})`}`);
  if (instance.home) console.log(`  home    ${onDisk(root, instance.home)}`);
  if (manager.available) console.log(`  service ${manager.state}${status.report ? `\n${indent(status.report, "    ")}` : ""}`);
  else console.log(`  service unknown: ${manager.reason}`);
  const { health } = status;
  if (health) {
    const answer = health.status === undefined ? `no answer (${health.detail})` : `${health.status}${health.detail ? ` (${health.detail})` : ""}`;
    console.log(`  health  ${health.url}: ${answer}`);
  } else console.log(`  health  not probed: ${status.healthSkipped}`);
  return status.running ? EXIT.ok : EXIT.failure;
}

function targetOf(flags: ServiceFlags): { platform: ServicePlatform; root: string } {
  const platform = flags.platform ?? process.platform;
  if (!(SERVICE_PLATFORMS as readonly string[]).includes(platform)) {
    throw usageError("service", `${flags.platform ? `--platform ${platform}` : `this OS (${platform})`}: expected one of ${SERVICE_PLATFORMS.join(", ")}`);
  }
  return { platform: platform as ServicePlatform, root: path.resolve(flags.root ?? "/") };
}

/**
 * cac reads `--id 01` as the number 1; ids and user names are text, so the words are taken from
 * the command line as typed.
 */
function text(value: string | number | undefined, flag: string): string | undefined {
  if (value === undefined || typeof value === "string") return value;
  const argv = process.argv;
  for (let i = argv.length - 1; i >= 0; i--) {
    if (argv[i] === flag) return argv[i + 1];
    if (argv[i]!.startsWith(`${flag}=`)) return argv[i]!.slice(flag.length + 1);
  }
  return String(value);
}

function printDryRun(plan: InstallPlan): void {
  console.log(`would create the home ${onDisk(plan.root, plan.home)}${plan.account.uid === undefined ? "" : ` owned by ${plan.account.user}:${plan.account.group}`}`);
  for (const file of plan.files) {
    console.log(`\nwould write ${onDisk(plan.root, file.path)} (${mode(file.mode)} ${file.ownerName}):`);
    console.log(indent(file.text.trimEnd()));
  }
  console.log("");
  printNext(plan.layout.platform, plan.next);
}

function printNext(platform: ServicePlatform, next: string[]): void {
  if (platform === "win32") {
    console.log("to register and start it, as Administrator:");
    for (const command of next) console.log(`  ${command}`);
  } else console.log(`to start it:\n  ${next.join(" && ")}`);
}

const indent = (text: string, by = "  ") => text.split("\n").map((line) => (line ? by + line : line)).join("\n");
const mode = (bits: number) => bits.toString(8).padStart(4, "0");
