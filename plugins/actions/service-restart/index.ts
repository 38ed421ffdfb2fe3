/**
 * service-restart: restart, start, stop or query one service through the OS's service manager
 * (systemctl, service, launchctl, sc.exe) or docker, then check the state it ends in. Which
 * services and operations are allowed, and which manager, come only from the agent's config; the
 * instruction names one service and one operation. Nothing goes through a shell.
 */
import { defineAction, type ExecResult, type PluginContext } from "../../../src/sdk/index.ts";
import { failure, parseParameters } from "./_errors.ts";
import { candidates, MANAGER_BY_NAME, type Change, type Manager, type ServiceState } from "./_managers.ts";
import { ConfigSchema, ParametersSchema, type ServiceConfig } from "./_schema.ts";
import { wait } from "../../../src/sdk/index.ts";

type Ctx = PluginContext<ServiceConfig>;
/** Characters of a command's stdout and stderr kept in the result. */
const OUTPUT_CHARS = 4096;

interface Command {
  argv: string[];
  exit_code: number | null;
  stdout: string;
  stderr: string;
  timed_out: boolean;
}

export default defineAction({
  configSchema: ConfigSchema,
  init(ctx) {
    if (ctx.config.binary_path && ctx.config.manager === "auto") throw new Error("service-restart: binary_path needs manager set (which manager is that binary?)");
  },
  async execute(ctx, request) {
    const { service, operation } = parseParameters(ParametersSchema, request.parameters);
    if (!ctx.config.allowed_services.includes(service)) {
      throw failure("not_allowed", `parameters.service: ${service} is not in allowed_services (${ctx.config.allowed_services.join(", ")})`);
    }
    if (!ctx.config.allowed_operations.includes(operation)) {
      throw failure("not_allowed", `parameters.operation: ${operation} is not in allowed_operations (${ctx.config.allowed_operations.join(", ")})`);
    }
    const started = performance.now();
    const commands: Command[] = [];
    const { manager, bin, before } = await findManager(ctx, service, commands);
    const report = (after: ServiceState, verified: boolean) => ({
      manager: manager.name,
      binary: bin,
      service,
      operation,
      state: after.state,
      running: after.running ?? null,
      before: before.state,
      verified,
      commands,
      duration_ms: Math.round(performance.now() - started),
    });
    if (operation === "status") {
      return { status: "completed", data: report(before, true) };
    }

    const want = operation !== "stop";
    const argv = manager.change(operation, bin, service, options(ctx));
    if (argv) {
      await change(ctx, argv, commands, `${operation} ${service}`);
    } else {
      // No native restart (sc.exe): stop, wait until it has stopped, start.
      const stop = manager.change("stop", bin, service, options(ctx)) as string[];
      const stopped = await run(ctx, stop, commands);
      if (stopped.exitCode !== 0) ctx.logger.info("stop before start did not succeed; the service may not have been running", { service, exit_code: stopped.exitCode });
      const settled = await settle(ctx, manager, bin, service, false, commands);
      if (settled.running !== false) throw failure("not_verified", `restart ${service}: it did not stop (state ${settled.state})`, { retryable: true });
      await change(ctx, manager.change("start", bin, service, options(ctx)) as string[], commands, `restart ${service}`);
    }
    const after = await settle(ctx, manager, bin, service, want, commands);
    const verified = after.running === want;
    ctx.logger.info(`service ${operation}`, { request_id: request.id, manager: manager.name, service, before: before.state, after: after.state, verified });
    if (!verified) {
      throw failure("not_verified", `${operation} ${service}: ${manager.name} succeeded but the service is ${after.state}, not ${want ? "running" : "stopped"}`, { retryable: true });
    }
    return { status: "completed", data: report(after, verified) };
  },
});

const options = (ctx: Ctx) => ({ launchctlDomain: ctx.config.launchctl_domain });

/**
 * The configured manager, or the first of this OS's found on PATH; its first status answer is the
 * state before the change. ctx.exec refuses a binary permissions.exec does not grant.
 */
async function findManager(ctx: Ctx, service: string, commands: Command[]): Promise<{ manager: Manager; bin: string; before: ServiceState }> {
  const configured = ctx.config.manager === "auto" ? undefined : MANAGER_BY_NAME[ctx.config.manager];
  const tried: string[] = [];
  for (const manager of configured ? [configured] : candidates(process.platform)) {
    const bin = ctx.config.binary_path || manager.binary;
    let result: ExecResult;
    try {
      result = await exec(ctx, manager.probe(bin, service, options(ctx)));
    } catch (error) {
      const code = (error as { code?: string }).code;
      // bad_request: not found on PATH; try the next. permission_denied and the rest are answers.
      if (code === "bad_request" && !configured) {
        tried.push(manager.binary);
        continue;
      }
      throw failure(code === "permission_denied" ? "not_allowed" : "no_manager", `${bin}: ${(error as Error).message}`, { cause: error });
    }
    commands.push(record(manager.probe(bin, service, options(ctx)), result));
    return { manager, bin, before: manager.parse(result) };
  }
  throw failure("no_manager", `no service manager found on PATH (tried ${tried.join(", ")}); set manager (and binary_path) in the config`);
}

async function change(ctx: Ctx, argv: string[], commands: Command[], what: string): Promise<void> {
  const result = await run(ctx, argv, commands);
  if (result.exitCode !== 0) {
    const why = result.timedOut ? `no answer within ${ctx.config.command_timeout_ms} ms` : `exit ${result.exitCode ?? result.signal}: ${(result.stderr || result.stdout).trim().slice(0, 500)}`;
    throw failure(ctx.signal.aborted ? "aborted" : "command_failed", `${what}: ${argv[0]} failed (${why})`, { retryable: result.timedOut });
  }
}

async function run(ctx: Ctx, argv: string[], commands: Command[]): Promise<ExecResult> {
  const result = await exec(ctx, argv);
  commands.push(record(argv, result));
  return result;
}

/** Asks for the state until it is `want` or verify_timeout_ms passes; the last answer. */
async function settle(ctx: Ctx, manager: Manager, bin: string, service: string, want: boolean, commands: Command[]): Promise<ServiceState> {
  const until = Date.now() + ctx.config.verify_timeout_ms;
  for (;;) {
    const probe = manager.probe(bin, service, options(ctx));
    const result = await exec(ctx, probe);
    const state = manager.parse(result);
    // Only the last answer is kept: a slow start would otherwise fill the result with polls.
    if (commands.at(-1)?.argv.join("\0") === probe.join("\0")) commands.pop();
    commands.push(record(probe, result));
    if (state.running === want || Date.now() >= until) return state;
    try {
      await wait(Math.min(ctx.config.verify_interval_ms, Math.max(0, until - Date.now())), ctx.signal);
    } catch (cause) {
      throw failure("aborted", `${service}: aborted while waiting for it to become ${want ? "running" : "stopped"} (now ${state.state})`, { cause });
    }
  }
}

function exec(ctx: Ctx, argv: string[]): Promise<ExecResult> {
  // LC_ALL=C: sc.exe and launchctl answers are parsed.
  return ctx.exec(argv, { timeoutMs: ctx.config.command_timeout_ms, maxOutputBytes: 64 * 1024, env: { LC_ALL: "C" } });
}

function record(argv: string[], result: ExecResult): Command {
  return {
    argv,
    exit_code: result.exitCode,
    stdout: result.stdout.slice(0, OUTPUT_CHARS),
    stderr: result.stderr.slice(0, OUTPUT_CHARS),
    timed_out: result.timedOut,
  };
}
