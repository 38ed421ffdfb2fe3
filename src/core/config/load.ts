/**
 * Loading the effective config: defaults < file < environment < command-line flags.
 * Every problem is collected and reported at once; nothing is started on a bad config.
 */
import { existsSync, readFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import * as v from "valibot";
import { usageError } from "../errors.ts";
import { agentHomePaths, defaultBaseDir } from "../home/index.ts";
import { registerSecret } from "../redact.ts";
import { buildInfo } from "../build-info.ts";
import { AGENT_ID_PATTERN, AGENT_TYPES, ConfigSchema, type AgentType, type ParsedConfig } from "./schema.ts";
import { applyOverrides, fromEnv, fromFlags, type Override } from "./_overrides.ts";
import { formatProblem, locationOf, problemFromIssue, type ConfigProblem, type IssueContext } from "./_issues.ts";
import { interpolate, parseYamlSource, type YamlSource } from "../yaml/index.ts";

type Resolved<T, K extends keyof T> = Omit<T, K> & { [P in K]-?: Exclude<T[P], undefined> };

/** The effective config: every default applied, every derived value filled in, every path absolute. */
export type Config = Omit<ParsedConfig, "agent" | "action" | "sensor"> & {
  agent: Resolved<ParsedConfig["agent"], "id" | "name" | "type" | "base_dir">;
  action: Resolved<ParsedConfig["action"], "max_concurrent_tasks" | "task_timeout">;
  sensor: Omit<ParsedConfig["sensor"], "triggers" | "outputs"> & {
    triggers: Array<Resolved<ParsedConfig["sensor"]["triggers"][number], "id" | "interval">>;
    outputs: Array<Resolved<ParsedConfig["sensor"]["outputs"][number], "id">>;
  };
};

export interface LoadOptions {
  /** `--config`; else $STAVILY_CONFIG, ./stavily.yaml, then the OS default for the type. */
  configFile?: string;
  /** `--type`; else `agent.type` in the file. */
  type?: AgentType;
  /** `--set key.path=value` assignments. */
  set?: readonly string[];
  env?: Record<string, string | undefined>;
  cwd?: string;
  platform?: NodeJS.Platform;
  hostname?: string;
}

export interface LoadedConfig {
  config: Config;
  /** The file read, if any. */
  file?: string;
  /** Places looked at for a config file when none was named. */
  searched: string[];
  warnings: string[];
}

export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const platform = options.platform ?? process.platform;
  const { file, searched } = findConfigFile(options, env, cwd, platform);

  const problems: ConfigProblem[] = [];
  let raw: Record<string, unknown> = {};
  let source: YamlSource | undefined;
  if (file) {
    const parsed = readConfigFile(file, displayName(file, cwd), env, problems);
    raw = parsed.raw;
    source = parsed.source;
  }

  const envResult = fromEnv(env);
  const flagResult = fromFlags(options.set ?? []);
  const overrides: Override[] = [...envResult.overrides, ...flagResult.overrides];
  for (const problem of flagResult.problems) problems.push({ location: problem.origin, path: "", message: problem.message });
  applyOverrides(raw, overrides);
  // STAVILY_AGENT_TOKEN is the token of last resort: it never hides one the file or
  // STAVILY_SECURITY_AUTH_API_KEY set (token_file still wins over both, in the API client).
  const token = env.STAVILY_AGENT_TOKEN;
  if (token && !(raw.security as any)?.auth?.api_key) {
    applyOverrides(raw, [{ path: ["security", "auth", "api_key"], value: token, origin: "env STAVILY_AGENT_TOKEN" }]);
  }

  const context: IssueContext = { file: file && displayName(file, cwd), source, overrides };
  const result = v.safeParse(ConfigSchema, raw, { abortPipeEarly: true });
  // A value whose ${VAR} could not be resolved is reported once, as that, not again as a bad value.
  const unresolved = new Set(problems.map((problem) => problem.location));
  for (const issue of result.issues ?? []) {
    const problem = problemFromIssue(issue, context);
    if (!unresolved.has(problem.location)) problems.push(problem);
  }

  let config: Config | undefined;
  if (result.success && problems.length === 0) {
    config = resolveDerived(result.output, { ...options, env, cwd, platform }, context, problems);
  }
  if (!config || problems.length > 0) {
    const where = file ? displayName(file, cwd) : "configuration";
    throw usageError("config", `${where}: ${problems.length} problem${problems.length === 1 ? "" : "s"}`, {
      details: problems.map(formatProblem),
    });
  }
  registerSecret(config.security.auth.api_key);
  return { config, file, searched, warnings: envResult.warnings };
}

function findConfigFile(options: LoadOptions, env: Record<string, string | undefined>, cwd: string, platform: NodeJS.Platform) {
  const named = options.configFile ?? env.STAVILY_CONFIG;
  if (named) {
    const file = resolve(cwd, named);
    const flag = options.configFile ? "--config" : "STAVILY_CONFIG";
    if (!existsSync(file)) throw usageError("config", `config file ${named} (from ${flag}) does not exist`);
    return { file, searched: [file] };
  }
  const candidates = [join(cwd, "stavily.yaml")];
  if (options.type) {
    candidates.push(
      platform === "win32"
        ? join(env.PROGRAMDATA ?? "C:\\ProgramData", "Stavily", `${options.type}.yaml`)
        : `/etc/stavily/${options.type}.yaml`,
    );
  }
  return { file: candidates.find((candidate) => existsSync(candidate)), searched: candidates };
}

function readConfigFile(file: string, name: string, env: Record<string, string | undefined>, problems: ConfigProblem[]) {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw usageError("config", `cannot read config file ${file}: ${(error as Error).message}`, { cause: error });
  }
  const { source, problems: yamlProblems } = parseYamlSource(text);
  const at = (position?: { line: number; col: number }) => (position ? `${name}:${position.line}:${position.col}` : name);
  for (const problem of yamlProblems) problems.push({ location: at(problem.position), path: "", message: problem.message });
  if (yamlProblems.length > 0) return { raw: {}, source };
  for (const problem of interpolate(source, env)) problems.push({ location: at(problem.position), path: "", message: problem.message });
  const raw = source.doc.toJS() ?? {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    problems.push({ location: at({ line: 1, col: 1 }), path: "", message: "expected a mapping of sections (agent:, api:, …)" });
    return { raw: {}, source };
  }
  return { raw: raw as Record<string, unknown>, source };
}

function displayName(file: string, cwd: string): string {
  return file.startsWith(`${cwd}/`) ? file.slice(cwd.length + 1) : file;
}

interface ResolveContext {
  type?: AgentType;
  env: Record<string, string | undefined>;
  cwd: string;
  platform: NodeJS.Platform;
  hostname?: string;
}

/** Values that follow from others: type, id, name, home, relative paths, section fallbacks. */
function resolveDerived(parsed: ParsedConfig, options: ResolveContext, context: IssueContext, problems: ConfigProblem[]): Config | undefined {
  const fileType = parsed.agent.type;
  if (options.type && fileType && options.type !== fileType) {
    problems.push({
      location: locationOf(["agent", "type"], "value", context),
      path: "agent.type",
      message: `the config is for a ${fileType} agent, but --type says ${options.type}`,
    });
  }
  const type = options.type ?? fileType;
  if (!type) {
    problems.push({
      location: context.file ?? "(no config file)",
      path: "agent.type",
      message: `missing: set agent.type in the config or pass --type ${AGENT_TYPES.join("|")}`,
    });
    return undefined;
  }
  const id = parsed.agent.id ?? defaultAgentId(type, options.hostname ?? osHostname());
  const baseDir = resolve(options.cwd, parsed.agent.base_dir ?? defaultBaseDir(options.env, options.platform));
  const home = agentHomePaths(baseDir, id);
  const underHome = (dir: string, path: string) => (isAbsolute(path) ? path : join(dir, path));

  const withIds = <T extends { id?: string; plugin: string }>(items: readonly T[], section: "triggers" | "outputs") => {
    const seen = new Set<string>();
    return items.map((item, index) => {
      const id = item.id ?? item.plugin;
      if (seen.has(id)) {
        const what = section === "triggers" ? "trigger" : "output";
        problems.push({
          location: locationOf(["sensor", section, index], "value", context),
          path: `sensor.${section}.${index}.id`,
          message: `${what} id "${id}" is used twice; give each ${what} of the same plugin its own id`,
        });
      }
      seen.add(id);
      return { ...item, id };
    });
  };
  const triggers = withIds(parsed.sensor.triggers, "triggers").map((trigger) => ({ ...trigger, interval: trigger.interval ?? parsed.sensor.trigger_check_interval }));
  const outputs = withIds(parsed.sensor.outputs, "outputs");

  const info = buildInfo();
  return {
    ...parsed,
    agent: { ...parsed.agent, id, name: parsed.agent.name ?? id, type, base_dir: baseDir },
    api: { ...parsed.api, user_agent: parsed.api.user_agent || `stavily-agent/${info.version} (${type}; ${info.os}/${info.arch})` },
    security: {
      ...parsed.security,
      audit: { ...parsed.security.audit, log_file: underHome(home.auditLogs, parsed.security.audit.log_file) },
      auth: { ...parsed.security.auth, token_file: parsed.security.auth.token_file && underHome(home.certificates, parsed.security.auth.token_file) },
      tls: {
        ...parsed.security.tls,
        cert_file: parsed.security.tls.cert_file && underHome(home.certificates, parsed.security.tls.cert_file),
        key_file: parsed.security.tls.key_file && underHome(home.certificates, parsed.security.tls.key_file),
        ca_file: parsed.security.tls.ca_file && underHome(home.certificates, parsed.security.tls.ca_file),
      },
    },
    logging: { ...parsed.logging, file: underHome(home.logs, parsed.logging.file || `${type}.log`) },
    plugins: { ...parsed.plugins, directory: parsed.plugins.directory ? resolve(options.cwd, parsed.plugins.directory) : home.dataPlugins },
    sensor: { ...parsed.sensor, triggers, outputs },
    action: {
      ...parsed.action,
      max_concurrent_tasks: parsed.action.max_concurrent_tasks ?? parsed.agent.max_concurrent_tasks,
      task_timeout: parsed.action.task_timeout ?? parsed.agent.task_timeout,
    },
  };
}

/** `<type>-<hostname>`, lower-cased, with anything outside [a-z0-9._-] turned into "-". */
export function defaultAgentId(type: AgentType, hostname: string): string {
  const host = hostname
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "");
  const id = `${type}-${host}`.slice(0, 63).replace(/[^a-z0-9]+$/, "");
  return AGENT_ID_PATTERN.test(id) ? id : type;
}
