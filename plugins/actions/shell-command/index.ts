/**
 * Runs one command an instruction asks for, within what the agent's local configuration allows:
 * listed commands only, in allowed directories, with a scrubbed environment, stdin, a timeout that
 * kills the whole process group, and capped output. The process itself is started by ctx.exec.
 */
import type { ActionOutput, ExecResult, PluginContext } from "../../../src/sdk/index.ts";
import { defineAction } from "../../../src/sdk/index.ts";
import { CommandSyntaxError, commandWords, shellTokens, splitCommand } from "./_argv.ts";
import { ConfigSchema, type ShellConfig } from "./_config.ts";
import { ParamError, parseParams, type ShellParams } from "./_params.ts";
import { buildEnv, checkCommand, checkWorkingDir } from "./_policy.ts";

/** A failed result keeps its output in `data`; `error` says why (the host accepts it beside data). */
type Output = ActionOutput & { error?: { message: string; code: string; details?: Record<string, unknown> } };

const which = (name: string) => Bun.which(name);

export default defineAction<ShellConfig>({
  configSchema: ConfigSchema,
  async execute(ctx, request): Promise<Output> {
    const params = parseParams(request.parameters);
    const config = ctx.config;
    const { argv, shell } = await commandLine(params.command, config);
    const workingDir = await checkWorkingDir(params.working_dir ?? (config.working_dir || ctx.workDir), config.allowed_paths, ctx.workDir, "working_dir");
    const env = buildEnv(config, params.env_vars);
    const timeout = params.timeout ?? config.timeout;
    if (timeout > config.max_timeout) throw new ParamError("timeout", `${timeout} s is longer than the agent's max_timeout (${config.max_timeout} s)`);
    if (params.input !== undefined && Buffer.byteLength(params.input) > config.max_input_size) {
      throw new ParamError("input", `${Buffer.byteLength(params.input)} bytes is more than the agent's max_input_size (${config.max_input_size})`);
    }

    ctx.logger.info("running", { executable: argv[0], args: argv.length - 1, shell, working_dir: workingDir, timeout_s: timeout });
    const result = await ctx.exec(argv, { cwd: workingDir, env, stdin: params.input, timeoutMs: timeout * 1000, maxOutputBytes: config.max_output_size });
    const data = describe(result, { argv, shell, workingDir, max: config.max_output_size });
    ctx.logger.info("finished", { exit_code: result.exitCode, signal: result.signal, timed_out: result.timedOut, duration_ms: result.durationMs });
    return verdict(ctx, result, data, timeout, config.success_exit_codes);
  },
});

/** The argv to run, after every command in it passed the allow and block lists. */
async function commandLine(command: ShellParams["command"], config: ShellConfig): Promise<{ argv: string[]; shell: boolean }> {
  if (Array.isArray(command)) {
    await checkCommand(command[0] as string, config, which);
    return { argv: command, shell: false };
  }
  try {
    if (!config.shell) {
      const argv = splitCommand(command);
      await checkCommand(argv[0] as string, config, which);
      return { argv, shell: false };
    }
    // Every command of a pipeline or list is checked; the shell still does the real parse.
    for (const word of commandWords(shellTokens(command))) await checkCommand(word, config, which);
    return { argv: [config.shell_path, "-c", command], shell: true };
  } catch (error) {
    if (error instanceof CommandSyntaxError) throw new ParamError("command", error.message);
    throw error;
  }
}

function describe(result: ExecResult, run: { argv: string[]; shell: boolean; workingDir: string; max: number }): Record<string, unknown> {
  // ExecResult has one flag for both streams: a stream that reached the cap is the truncated one.
  const cut = (text: string) => result.truncated && Buffer.byteLength(text) >= run.max;
  const mark = (text: string) => (cut(text) ? `${text}\n[output truncated at ${run.max} bytes]` : text);
  return {
    command: run.argv,
    shell: run.shell,
    working_dir: run.workingDir,
    exit_code: result.exitCode,
    signal: result.signal,
    timed_out: result.timedOut,
    aborted: result.aborted,
    stdout: mark(result.stdout),
    stderr: mark(result.stderr),
    truncated: result.truncated,
    stdout_truncated: cut(result.stdout),
    stderr_truncated: cut(result.stderr),
    duration_ms: result.durationMs,
  };
}

function verdict(ctx: PluginContext<ShellConfig>, result: ExecResult, data: Record<string, unknown>, timeout: number, success: number[]): Output {
  const fail = (code: string, message: string): Output => ({
    status: "failed",
    data,
    error: { message, code, details: { exit_code: result.exitCode, signal: result.signal, stderr_tail: tail(result.stderr) } },
  });
  if (ctx.signal.aborted) return fail("aborted", `aborted (${reason(ctx.signal)}); the process group was killed`);
  if (result.timedOut) return fail("timeout", `timed out after ${timeout} s; the process group was killed`);
  if (result.exitCode === null || !success.includes(result.exitCode)) {
    const how = result.exitCode === null ? `killed by ${result.signal}` : `exit code ${result.exitCode}`;
    const last = tail(result.stderr);
    return fail("command_failed", `the command failed: ${how}${last ? `: ${last}` : ""}`);
  }
  return { status: "completed", data };
}

/** The last line of stderr, short: enough for the error message when the result's data is not shown. */
function tail(stderr: string): string {
  const line = stderr.trimEnd().split("\n").pop() ?? "";
  return line.length > 300 ? `…${line.slice(-300)}` : line;
}

function reason(signal: AbortSignal): string {
  const why = signal.reason;
  return why instanceof Error ? why.message : String(why ?? "aborted");
}
