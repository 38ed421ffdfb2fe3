/**
 * The plugin worker's entry point (a build entrypoint: see scripts/build.ts). The message handler is
 * installed before anything awaits, so no call posted during start-up is lost.
 */
import { createWorkerRuntime } from "./_runtime.ts";
import type { WorkerMessage } from "./_protocol.ts";
import { registerSdkModule } from "./_sdk-module.ts";

declare const self: Worker;

const post = (message: WorkerMessage) => self.postMessage(message);
const runtime = createWorkerRuntime(post, { path: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin" });
self.onmessage = (event: MessageEvent) => runtime.receive(event.data);
registerSdkModule();

// console.* from plugin code goes to the plugin's log, not the agent's stdout.
const toLog = (level: "debug" | "info" | "warn" | "error") => (...args: unknown[]) => {
  try {
    post({ t: "log", level, msg: args.map((arg) => (typeof arg === "string" ? arg : Bun.inspect(arg))).join(" ") });
  } catch {
    // host gone
  }
};
console.log = toLog("info");
console.info = toLog("info");
console.debug = toLog("debug");
console.warn = toLog("warn");
console.error = toLog("error");
