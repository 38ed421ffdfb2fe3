/**
 * One plugin child with its pipes wired: stdout lines to the channel (answers) or the plugin log (noise),
 * stderr lines to the plugin log and to whoever listens, and its end reported once everything is read.
 */
import type { Logger } from "../../log/index.ts";
import type { PluginErrorInfo, PluginLaunch } from "../types.ts";
import { type Channel, createChannel } from "./_channel.ts";
import { createLineSplitter, createRateGate, type Line } from "./_lines.ts";
import type { StdioOptions } from "./_options.ts";
import { openPluginLog, type PluginLog } from "./_plugin-log.ts";
import { buildArgv, buildChildEnv, findPrlimit, resolveInterpreter, spawnChild, type StdioCommand } from "./_spawn.ts";

export interface ChildExit {
  code: number | null;
  signal: string | null;
}

export interface PluginProcess {
  readonly pid: number;
  readonly channel: Channel;
  readonly log: PluginLog;
  /** Receives stderr lines while set (an action's `onLog`). */
  stderrListener: ((line: string) => void) | undefined;
  /** Receives the pushed lines of the protocol extensions (`{"push": …}`), when the command speaks them. */
  pushListener: ((push: Record<string, unknown>) => void) | undefined;
  /** Closes the child's stdin: the plugins' read loop ends on EOF. */
  endInput(): void;
  /** SIGTERM to the group now, SIGKILL after `graceMs`. */
  terminate(graceMs: number): void;
  /** After the exit, the last output read (bounded by `drainMs`), and the channel closed. */
  readonly ended: Promise<ChildExit>;
}

export interface ProcessDeps {
  options: StdioOptions;
  logger?: Logger;
  parentEnv: Record<string, string | undefined>;
  /** Why pending calls fail once the child is gone (decided by the instance: stopped, killed, crashed). */
  closing(exit: ChildExit): PluginErrorInfo;
  /** How to start the child when it is not `<interpreter> <entry>` (sandbox levels). */
  command?: StdioCommand;
}

/** How every pushed line of the protocol extensions starts; the plugin host writes exactly this. */
export const PUSH_PREFIX = '{"push":';

const describe = (exit: ChildExit) => (exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`);

async function pump(stream: ReadableStream<Uint8Array>, maxBytes: number, onLine: (line: Line) => void) {
  const splitter = createLineSplitter(maxBytes, onLine);
  try {
    for await (const chunk of stream) splitter.push(chunk);
  } catch {
    // The pipe broke with the child; what was read is kept.
  }
  splitter.end();
}

export async function startPluginProcess(launch: PluginLaunch, deadline: number, deps: ProcessDeps): Promise<PluginProcess> {
  const { options } = deps;
  const log = openPluginLog(launch.logFile, launch.instance, (error) => deps.logger?.warn("plugin log write failed", { plugin: launch.id, error }));
  try {
    const command = deps.command ?? {};
    const { env, ignored } = buildChildEnv(launch, deps.parentEnv);
    if (ignored.length > 0) log.write("host", `env ignored (the STAVILY_ namespace is the host's): ${ignored.join(", ")}`);
    for (const [key, value] of Object.entries(command.env ?? {})) {
      if (value === undefined) delete env[key];
      else env[key] = value;
    }
    const interpreter =
      command.main || launch.runtime === "executable" || launch.runtime === "bun"
        ? null
        : await resolveInterpreter(launch.runtime, env.PATH ?? "", Math.max(0, Math.min(options.resolveTimeoutMs, deadline - Date.now())));
    const limit = command.dataLimit ?? launch.limits.memory;
    const prlimit = limit > 0 ? findPrlimit() : null;
    if (limit > 0 && !prlimit) {
      if (process.platform === "linux") throw new Error("limits.memory is set but prlimit (util-linux) is not installed");
      log.write("host", `limits.memory is not enforced on ${process.platform}`);
    }
    const child = spawnChild(buildArgv(launch, interpreter, prlimit, command), launch.workDir, env);
    return wire(child, log, launch, deps);
  } catch (error) {
    await log.close();
    throw error;
  }
}

function wire(child: ReturnType<typeof spawnChild>, log: PluginLog, launch: PluginLaunch, deps: ProcessDeps): PluginProcess {
  const { options } = deps;
  const channel = createChannel(launch.id, options.maxAnswerBytes, (line) => child.stdin.write(line), { sequenced: deps.command?.extended === true });
  const gate = createRateGate(options.logLinesPerSecond);
  const reportDropped = (count: number) => log.write("host", `${count} output lines dropped (over ${options.logLinesPerSecond} lines/s)`);
  const cut = (line: Line) => (line.text.length > options.maxLogLineBytes || line.truncated ? `${line.text.slice(0, options.maxLogLineBytes)} …[${line.bytes} bytes]` : line.text);

  const extended = deps.command?.extended === true;
  const stdoutDone = pump(child.stdout, options.maxAnswerBytes, (line) => {
    if (extended && !line.truncated && line.text.startsWith(PUSH_PREFIX)) return push(line.text);
    const received = channel.receive(line);
    if (received === "late") log.write("host", "discarded the late answer of a call that missed its deadline");
    if (received === "noise" && gate.admit(reportDropped)) log.write("stdout", cut(line));
  });
  const stderrDone = pump(child.stderr, options.maxLogLineBytes, (line) => {
    if (!gate.admit(reportDropped)) return;
    const text = cut(line);
    log.write("stderr", text);
    try {
      handle.stderrListener?.(text);
    } catch (error) {
      log.write("host", `onLog listener threw: ${String(error)}`);
    }
  });

  const push = (text: string) => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return log.write("host", "a pushed line is not JSON (dropped)");
    }
    try {
      handle.pushListener?.(value as Record<string, unknown>);
    } catch (error) {
      log.write("host", `push listener threw: ${String(error)}`);
    }
  };

  const signal = (name: NodeJS.Signals) => {
    const error = child.signalGroup(name);
    if (error) log.write("host", `${name} to process group ${child.pid} failed: ${error.message}`);
  };
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const ended = child.exited.then(async (exit) => {
    clearTimeout(killTimer);
    // Whatever the child left behind in its group goes with it (and lets go of the pipes).
    signal("SIGKILL");
    let drainTimer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all([stdoutDone, stderrDone]), new Promise((resolve) => (drainTimer = setTimeout(resolve, options.drainMs)))]);
    clearTimeout(drainTimer);
    channel.close(deps.closing(exit));
    gate.flush(reportDropped);
    log.write("host", `process ${child.pid} ${describe(exit)}`);
    await log.close();
    return exit;
  });

  const handle: PluginProcess = {
    pid: child.pid,
    channel,
    log,
    stderrListener: undefined,
    pushListener: undefined,
    endInput: () => {
      try {
        child.stdin.end();
      } catch {
        // Already closed: the child is gone.
      }
    },
    terminate(graceMs) {
      if (killTimer) return;
      signal("SIGTERM");
      killTimer = setTimeout(() => signal("SIGKILL"), Math.max(0, graceMs));
    },
    ended,
  };
  log.write("host", `started pid ${child.pid}: ${launch.runtime} ${launch.entry}`);
  return handle;
}

export { describe as describeExit };
