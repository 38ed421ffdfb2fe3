/**
 * `stavily plugin-host` as a process: stdin/stdout are the protocol, stderr the plugin's log. Plugin code
 * shares this process, so console.* and process.stdout.write are sent to stderr before it loads: a stray
 * print must not be read as an answer.
 */
import fs from "node:fs";
import { PLUGIN_HOST_EXIT } from "./_options.ts";
import { servePluginHost } from "./_serve.ts";

export async function runPluginHost(): Promise<never> {
  if (process.stdin.isTTY) {
    process.stderr.write("stavily plugin-host: started by the agent for sandbox levels process and strict; it reads the Stavily stdio protocol on stdin\n");
    process.exit(PLUGIN_HOST_EXIT.usage);
  }
  const out = Bun.stdout.writer();
  const err = Bun.stderr.writer();
  const line = (sink: typeof out, text: string) => {
    sink.write(text);
    sink.flush();
  };
  const toLog = (level: string) => (...args: unknown[]) =>
    line(err, `${level} ${args.map((arg) => (typeof arg === "string" ? arg : Bun.inspect(arg))).join(" ").replace(/\r?\n/g, "\\n")}\n`);
  console.log = toLog("info");
  console.info = toLog("info");
  console.debug = toLog("debug");
  console.warn = toLog("warn");
  console.error = toLog("error");
  process.stdout.write = ((chunk: string | Uint8Array, encodingOrDone?: unknown, done?: unknown) => {
    line(err, typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk));
    const callback = typeof encodingOrDone === "function" ? encodingOrDone : done;
    if (typeof callback === "function") queueMicrotask(() => callback());
    return true;
  }) as typeof process.stdout.write;

  const fatal = (message: string, code: number): never => {
    try {
      // Synchronous: the process ends on the next line, and the agent should learn why.
      fs.writeSync(2, `error ${message}\n`);
    } catch {
      // stderr is gone with the agent; the exit code still tells.
    }
    process.exit(code);
  };
  // Bun does not end a process on an uncaught error while its top-level await is pending, as this one's
  // is until stdin ends: plugin code throwing from a timer would leave its call unanswered until the
  // deadline (and the plugin running on), where in a Worker (level worker) it ends the instance at once.
  const describe = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).replace(/\r?\n/g, "\\n").slice(0, 500);
  process.on("uncaughtException", (error) => fatal(`uncaught in the plugin host: ${describe(error)}`, PLUGIN_HOST_EXIT.uncaught));
  process.on("unhandledRejection", (reason) => fatal(`unhandled rejection in the plugin host: ${describe(reason)}`, PLUGIN_HOST_EXIT.uncaught));
  let code: number;
  try {
    code = await servePluginHost({ input: Bun.stdin.stream(), answer: (text) => line(out, text), log: (text) => line(err, text), fatal });
  } catch (error) {
    line(err, `error plugin host: ${(error as Error).stack ?? String(error)}\n`);
    code = 1;
  }
  // Plugin code may leave timers or sockets behind; the host ends with its input, not with them.
  await Promise.all([out.end(), err.end()]);
  process.exit(code);
}
