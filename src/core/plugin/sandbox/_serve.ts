/**
 * The child side of sandbox levels `process` and `strict` for a TypeScript (or built-in) plugin:
 * `stavily plugin-host` hosts the plugin in its own process with the worker runtime (same loading,
 * same ctx) and serves the extended Stavily stdio protocol (../stdio/README.md) on stdin/stdout.
 * Stdout carries protocol lines only: logs and console output go to stderr, one line each.
 */
import { createLineSplitter } from "../stdio/_lines.ts";
import type { StdioRequest, WireActionRequest } from "../stdio/_wire.ts";
import type { PluginErrorInfo, PluginLaunch } from "../types.ts";
import type { CallMethod, HostMessage, RunArgs, StartArgs, WorkerMessage } from "../worker/_protocol.ts";
import { createWorkerRuntime } from "../worker/_runtime.ts";
import { registerSdkModule } from "../worker/_sdk-module.ts";
import { acceptActionOutput, acceptEvent, acceptEvents, acceptHealth } from "../worker/_validate.ts";
import { PLUGIN_HOST_EXIT, SERVE_DEFAULTS, type ServeOptions } from "./_options.ts";

export interface HostIo {
  /** Requests, one JSON object a line. */
  input: AsyncIterable<Uint8Array>;
  /** One protocol line (answer or push), newline included. */
  answer(line: string): void;
  /** One log line, newline included. */
  log(line: string): void;
  /** Writes `message` to stderr and ends the process at once (a heap over limits.memory). */
  fatal(message: string, code: number): never;
}

/** `seq` first: the agent tells the host's answers from anything else on stdout by it (../stdio/_channel.ts). */
type Answer = { seq?: number; action: string; success: boolean; data?: unknown; error?: PluginErrorInfo };

/** Serves until stdin ends; resolves with the exit code. Calls are answered in the order they arrive. */
export async function servePluginHost(io: HostIo, options: Partial<ServeOptions> = {}): Promise<number> {
  const opts = { ...SERVE_DEFAULTS, ...options };
  const pending = new Map<number, (message: Extract<WorkerMessage, { t: "ok" | "fail" }>) => void>();
  let nextId = 1;
  let memoryLimit = 0;

  const log = (level: string, msg: string, fields?: Record<string, unknown>) =>
    io.log(`${level} ${oneLine(msg)}${fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : ""}\n`); // fields arrive JSON-safe (createPluginLogger)

  const post = (message: WorkerMessage) => {
    switch (message.t) {
      case "ok":
      case "fail":
        // JavaScriptCore throws a catchable "Out of memory" at RLIMIT_DATA; a process that got there is done.
        if (outOfMemory(message)) io.fatal(`memory limit: out of memory under limits.memory ${memoryLimit} (${message.t === "ok" ? "execute" : "call"} failed)`, PLUGIN_HOST_EXIT.memoryLimit);
        return pending.get(message.id)?.(message);
      case "log":
        return log(message.level, message.msg, message.fields);
      case "event":
        return pushEvent(message.event);
      case "exec":
        // The agent kills the group if this process ends first (a crash, a kill) with the child running.
        return io.answer(`${JSON.stringify({ push: "exec", pid: message.pid, running: message.running })}\n`);
      case "heap":
        if (memoryLimit > 0 && message.bytes > memoryLimit) {
          io.fatal(`memory limit: the plugin's JS heap is ${message.bytes} bytes, over limits.memory ${memoryLimit}`, PLUGIN_HOST_EXIT.memoryLimit);
        }
    }
  };
  const runtime = createWorkerRuntime(post, { path: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin" });

  function pushEvent(raw: unknown) {
    try {
      io.answer(`${JSON.stringify({ push: "event", event: acceptEvent(raw) })}\n`);
    } catch (error) {
      log("warn", `watch: event dropped: ${(error as Error).message}`);
    }
  }

  function call(method: CallMethod, args: unknown[], deadline: number): Promise<unknown> {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, (message) => {
        pending.delete(id);
        if (message.t === "ok") resolve(message.value);
        else reject(Object.assign(new Error(message.error.message), message.error));
      });
      const message: HostMessage = { t: "call", id, method, args, deadline };
      runtime.receive(message);
    });
  }

  async function handle(request: StdioRequest): Promise<unknown> {
    const deadline = typeof request.deadline === "number" ? request.deadline : Date.now() + opts.defaultCallMs;
    switch (request.action) {
      case "initialize": {
        const launch = request.launch as PluginLaunch | undefined;
        if (!launch) throw Object.assign(new Error("initialize: no launch (the plugin host speaks the extended protocol only)"), { code: "bad_request" });
        memoryLimit = launch.limits.memory;
        const args: StartArgs = { launch: { ...launch, config: request.config }, heapReportMs: opts.heapReportMs };
        return call("start", [args], deadline);
      }
      case "start":
        return undefined; // initialize already ran the plugin's init and start hooks
      case "detect_triggers":
        return acceptEvents(await call("detect", [runArgs(request)], deadline), opts.maxEvents);
      case "execute_action": {
        const { requested_at: _, ...actionRequest } = request.action_request as WireActionRequest;
        const result = acceptActionOutput(await call("execute", [actionRequest], deadline));
        return { id: actionRequest.id, ...result };
      }
      case "send":
        return call("send", [request.batch], deadline);
      case "get_health":
        return acceptHealth(await call("health", [], deadline));
      case "stop":
        return call("stop", [runArgs(request)], deadline);
      default:
        throw Object.assign(new Error(`${request.action}: not served by the plugin host`), { code: "bad_request" });
    }
  }

  /** One request at a time, as the parent sends them; the answer always names the request's action. */
  let queue = Promise.resolve();
  const receive = (text: string) => {
    let request: StdioRequest;
    try {
      request = JSON.parse(text) as StdioRequest;
      if (typeof request !== "object" || request === null || typeof request.action !== "string") throw new Error("no action");
    } catch (error) {
      io.answer(`${JSON.stringify({ error: `invalid request: ${(error as Error).message}` })}\n`);
      return;
    }
    const seq = typeof request.seq === "number" ? { seq: request.seq } : {};
    queue = queue.then(async () => {
      let answer: Answer;
      try {
        const data = await handle(request);
        answer = { ...seq, action: request.action, success: true, ...(data === undefined ? {} : { data }) };
      } catch (error) {
        const { message, code, retryable } = error as { message?: string; code?: string; retryable?: boolean };
        answer = { ...seq, action: request.action, success: false, error: { message: message ?? String(error), code: code ?? "invalid_output", retryable: retryable === true } };
      }
      io.answer(`${safeJson(answer)}\n`);
    });
  };

  registerSdkModule();
  const splitter = createLineSplitter(opts.maxRequestBytes, (line) => {
    if (line.truncated) io.answer(`${JSON.stringify({ error: `request longer than ${opts.maxRequestBytes} bytes` })}\n`);
    else if (line.text.trim() !== "") receive(line.text);
  });
  for await (const chunk of io.input) splitter.push(chunk);
  splitter.end();
  await queue;
  return 0;
}

/** The agent says whether it took the last detect's events; the worker commits that run's state only then. */
function runArgs(request: StdioRequest): RunArgs {
  return { taken: request.taken === true };
}

const OOM = "Out of memory";

function outOfMemory(message: Extract<WorkerMessage, { t: "ok" | "fail" }>): boolean {
  if (message.t === "fail") return message.error.message === OOM;
  const error = (message.value as { error?: { message?: unknown } } | null)?.error;
  return error?.message === OOM;
}

function oneLine(text: string): string {
  return text.replace(/\r?\n/g, "\\n");
}

/** A value the plugin returned that JSON refuses (a cycle, a BigInt) fails its call, not the host. */
function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    const { seq, action } = (value ?? {}) as { seq?: unknown; action?: unknown };
    return JSON.stringify({ seq, action, success: false, error: { message: `the plugin returned a value that cannot be sent: ${(error as Error).message}`, code: "invalid_output" } });
  }
}
