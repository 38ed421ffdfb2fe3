/**
 * `stavily service install`: plans everything first (config, units, home), refusing clearly before
 * anything is written, then writes: home, config, then the service files, so a unit never points at
 * a config that is not there yet.
 */
import { existsSync, lstatSync, lchownSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { AGENT_ID_PATTERN, type AgentType, type Config } from "../config/index.ts";
import { errorMessage, StavilyError, usageError } from "../errors.ts";
import { agentHomePaths, prepareAgentHome } from "../home/index.ts";
import { type Account, lookupAccount } from "./_account.ts";
import { configFromFile, generatedConfig } from "./_config.ts";
import { type FileOwner, writeAtomic } from "./_files.ts";
import { exclusiveResources, findInstalled, type Installed, usedPorts } from "./_inventory.ts";
import { renderPlist } from "./_launchd.ts";
import {
  configFileOf, DEFAULT_USER, type InstanceRef, instanceUnitFile, type Layout, layoutFor, onDisk, pathsOf, type ServicePlatform, templateName, unitName,
} from "./_layout.ts";
import { assertUnitSafePath, renderInstanceDropIn, renderTemplate, stopTimeoutSeconds } from "./_systemd.ts";
import { scCreateCommands, SCM_CAVEAT } from "./_windows.ts";

export interface InstallOptions {
  ref: InstanceRef;
  platform: ServicePlatform;
  /** "/" for the machine; another directory stages the files under it (packaging, tests). */
  root: string;
  /** The operator's config to copy; else a minimal one is generated. */
  configFile?: string;
  user?: string;
  binary?: string;
  /** Write over an installed instance of the same type and id, or a template other instances use. */
  force?: boolean;
}

export interface PlannedFile {
  /** The real path; written at onDisk(root, path). */
  path: string;
  text: string;
  mode: number;
  owner?: FileOwner;
  /** For people: "root:stavily". */
  ownerName: string;
}

export interface InstallPlan {
  ref: InstanceRef;
  layout: Layout;
  root: string;
  account: Account;
  config: Config;
  /** `<base_dir>/agent-<id>`, real path. */
  home: string;
  files: PlannedFile[];
  /** Things the operator should know (a missing user or binary). */
  notes: string[];
  /** Commands that start the service, in order. */
  next: string[];
}

export function checkRef(type: string | undefined, id: string | undefined): InstanceRef {
  if (type !== "sensor" && type !== "action") throw usageError("service", `expected the agent type sensor or action, got "${type ?? ""}"`);
  if (!id) throw usageError("service", "--id is required: the agent id (e.g. --id web-01)");
  if (!AGENT_ID_PATTERN.test(id)) {
    throw usageError("service", `--id "${id}": expected 1-63 characters: a-z, 0-9, '.', '_' or '-', starting with a letter or digit`);
  }
  return { type: type as AgentType, id };
}

export function planInstall(options: InstallOptions): InstallPlan {
  const { ref, root, platform } = options;
  const layout = layoutFor(platform);
  const binary = options.binary ?? layout.binary;
  if (!pathsOf(platform).isAbsolute(binary)) throw usageError("service", `--binary ${binary}: expected an absolute path`);

  const installed = findInstalled(layout, root);
  const mine = installed.find((item) => item.ref.type === ref.type && item.ref.id === ref.id);
  if (mine && !options.force) {
    const where = [mine.hasConfig && mine.configFile, mine.hasUnit && mine.unitFile].filter(Boolean).join(" and ");
    throw usageError("service", `${ref.type} agent "${ref.id}" is already installed (${where}); pass --force to write it again`);
  }
  const sameId = installed.find((item) => item.ref.id === ref.id && item.ref.type !== ref.type);
  if (sameId) {
    throw usageError("service", `id "${ref.id}" is taken by the installed ${sameId.ref.type} agent: agents share a home when they share an id, agent ids are unique: the orchestrator and the home tell agents apart by id`);
  }
  const others = installed.filter((item) => item !== mine);

  const account = lookupAccount(options.user ?? layout.user, root, platform);
  // Installing again keeps the operator's edits: the installed config is the one to copy.
  const source = options.configFile ? path.resolve(options.configFile) : mine?.hasConfig ? onDisk(root, mine.configFile) : undefined;
  const { text, config } = source ? configFromFile(source, ref, layout) : generatedConfig(ref, layout, usedPorts(others));
  if ((account.user === "root" || account.uid === 0) && !config.security.allow_root) {
    throw usageError("service", "--user root: the agent refuses to run as root unless its config sets security.allow_root: true; prefer a dedicated user");
  }
  refuseShared(config, others, ref);

  // A Windows install planned on another OS (tests, packaging) cannot resolve C:\ paths with this OS's path module.
  const home = platform === "win32" && process.platform !== "win32" ? pathsOf("win32").join(layout.baseDir, `agent-${ref.id}`) : agentHomePaths(config.agent.base_dir, ref.id).root;
  const stopTimeoutSec = stopTimeoutSeconds(ref.type, config.agent.shutdown_grace, config.action.cancel_grace_period);
  const configFile = configFileOf(layout, ref);
  const files: PlannedFile[] = [
    {
      path: configFile,
      text,
      mode: 0o640,
      // root's, readable by the agent's group: the config bounds what plugins may do, so the agent must not rewrite it.
      owner: account.gid === undefined ? undefined : { uid: 0, gid: account.gid },
      ownerName: platform === "win32" ? "Administrators" : `root:${account.uid === undefined ? "root" : account.group}`,
    },
  ];
  const { notes, next } = serviceFiles({ ref, layout, root, binary, account, home, stopTimeoutSec, configFile, others, force: options.force }, files);
  if (platform !== "win32" && account.uid === undefined) {
    notes.push(
      `user "${account.user}" does not exist: create it (Linux: useradd --system --user-group --home-dir ${layout.baseDir} --shell /usr/sbin/nologin ${account.user}), then install again with --force so the home and config belong to it`,
    );
  }
  if (!existsSync(onDisk(root, binary))) notes.push(`${binary} does not exist: install the stavily executable there, or pass --binary`);
  return { ref, layout, root, account, config, home, files, notes, next };
}

export function applyInstall(plan: InstallPlan): void {
  const { root, account, layout, ref } = plan;
  const foreignWindows = layout.platform === "win32" && process.platform !== "win32";
  const baseDir = onDisk(root, foreignWindows ? layout.baseDir : plan.config.agent.base_dir);
  const home = attempt(baseDir, () => prepareAgentHome(baseDir, ref.id));
  if (account.uid !== undefined && account.gid !== undefined && process.platform !== "win32") {
    const { uid, gid } = account;
    attempt(home.root, () => chownTree(home.root, uid, gid));
  }
  for (const file of plan.files) {
    const target = onDisk(root, file.path);
    attempt(target, () => writeAtomic(target, file.text, file.mode, file.owner));
  }
}

interface ServiceFileContext {
  ref: InstanceRef;
  layout: Layout;
  root: string;
  binary: string;
  account: Account;
  home: string;
  stopTimeoutSec: number;
  configFile: string;
  others: readonly Installed[];
  force?: boolean;
}

/** Adds the platform's service files to `files`; returns what to tell the operator and the commands that start it. */
function serviceFiles(context: ServiceFileContext, files: PlannedFile[]): { notes: string[]; next: string[] } {
  const { ref, layout, root, binary, account, home, stopTimeoutSec, configFile } = context;
  const rootOwned = { mode: 0o644, ownerName: layout.platform === "darwin" ? "root:wheel" : "root:root" };
  if (layout.platform === "linux") {
    assertUnitSafePath(binary, "--binary");
    assertUnitSafePath(home, "the agent home");
    const template = path.posix.join(layout.unitDir!, templateName(ref.type));
    const templateText = renderTemplate({ type: ref.type, binary, user: DEFAULT_USER, group: DEFAULT_USER, configDir: layout.configDir, baseDir: layout.baseDir });
    refuseTemplateChange(onDisk(root, template), templateText, context.others, ref.type, context.force);
    files.push({ path: template, text: templateText, ...rootOwned });
    files.push({ path: instanceUnitFile(layout, ref)!, text: renderInstanceDropIn({ ref, user: account.user, group: account.group, home, stopTimeoutSec }), ...rootOwned });
    const hidden = /^\/(home|root|run\/user)\//.test(binary);
    return {
      notes: hidden ? [`${binary} is under a home directory, which ProtectHome= hides from the service: install it in /usr/local/bin`] : [],
      next: ["systemctl daemon-reload", `systemctl enable --now ${unitName(ref).replace(/\.service$/, "")}`],
    };
  }
  if (layout.platform === "darwin") {
    const plist = instanceUnitFile(layout, ref)!;
    files.push({ path: plist, text: renderPlist({ ref, binary, configFile, user: account.user, group: account.group, home, stopTimeoutSec }), ...rootOwned });
    return { notes: [], next: [`launchctl bootstrap system ${plist}`] };
  }
  return { notes: [SCM_CAVEAT], next: scCreateCommands({ ref, binary, configFile, home }) };
}

/** Two agents side by side share nothing: not a port, not a directory, not a file they write. */
function refuseShared(config: Config, others: readonly Installed[], ref: InstanceRef): void {
  const mine = exclusiveResources(config);
  const details: string[] = [];
  for (const other of others) {
    if (!other.config) continue;
    const theirs = exclusiveResources(other.config);
    for (const [key, what] of mine) if (theirs.has(key)) details.push(`${what} is also used by ${other.ref.type} agent "${other.ref.id}" (${other.configFile})`);
  }
  if (details.length > 0) {
    throw usageError("service", `${ref.type} agent "${ref.id}" would share ${details.length === 1 ? "a resource" : "resources"} with another installed agent; give it its own in the config`, { details });
  }
}

function refuseTemplateChange(file: string, text: string, others: readonly Installed[], type: AgentType, force?: boolean): void {
  if (force || !existsSync(file) || readFileSync(file, "utf8") === text) return;
  const users = others.filter((item) => item.ref.type === type && item.hasUnit).map((item) => item.ref.id);
  if (users.length === 0) return;
  throw usageError("service", `${file} differs from the one this install writes (another --binary?) and ${type} agents ${users.join(", ")} use it; pass --force to replace it for all of them`);
}

function chownTree(dir: string, uid: number, gid: number): void {
  lchownSync(dir, uid, gid);
  for (const name of readdirSync(dir)) {
    const entry = path.join(dir, name);
    if (lstatSync(entry).isDirectory()) chownTree(entry, uid, gid);
    else lchownSync(entry, uid, gid);
  }
}

function attempt<T>(target: string, action: () => T): T {
  try {
    return action();
  } catch (error) {
    if (error instanceof StavilyError) throw error;
    const denied = ["EACCES", "EPERM"].includes((error as NodeJS.ErrnoException).code ?? "");
    const hint = denied ? " (run it as root, or stage the files with --root DIR)" : "";
    throw new StavilyError("service", `cannot write ${target}: ${errorMessage(error)}${hint}`, { cause: error });
  }
}
