/**
 * stdout: each event of a batch as one line on the agent's stdout — JSON lines, or compact text.
 *
 * Plugin code runs in a Bun Worker of the agent; a worker's `process.stdout` is the process's fd 1,
 * buffered per worker. `console.*` is redirected to the plugin's log, and ctx.logger goes there too:
 * events are data, not log lines, so they go to stdout directly, one write per batch, and `send`
 * resolves only once that write has been handed to the OS. A reader that stops reading therefore
 * holds `send` (bounded by the call's deadline) instead of growing a buffer for months.
 */
import { isMainThread } from "node:worker_threads";
import { defineOutput } from "../../../src/sdk/index.ts";
import { ConfigSchema } from "./_config.ts";
import { jsonLine, textLine } from "./_lines.ts";

export default defineOutput({
  configSchema: ConfigSchema,
  init() {
    // In `stavily plugin-host` (sandbox levels process and strict) fd 1 is the protocol pipe and
    // process.stdout is redirected to the plugin's log: the events would never reach the agent's stdout.
    if (isMainThread) {
      throw new Error("stdout: the agent's stdout is reachable only from a Worker of the agent (security.sandbox.level worker); this instance runs in its own process");
    }
  },
  async send(ctx, batch) {
    if (batch.length === 0) return;
    const line = ctx.config.format === "text" ? textLine : jsonLine;
    await writeStdout(batch.map(line).join(""), ctx.signal);
  },
});

/** One write; resolves once it is handed to the OS, rejects on a write error (EPIPE) or on abort. */
function writeStdout(text: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(stdoutError("aborted before writing", signal.reason));
    const onAbort = () => reject(stdoutError("aborted while stdout was not being read (the write stays queued)", signal.reason));
    signal.addEventListener("abort", onAbort, { once: true });
    process.stdout.write(text, (error) => {
      signal.removeEventListener("abort", onAbort);
      if (error) reject(Object.assign(stdoutError(`write failed: ${error.message}`, error), { retryable: true }));
      else resolve();
    });
  });
}

function stdoutError(message: string, cause: unknown): Error & { code: string } {
  return Object.assign(new Error(`stdout: ${message}`, { cause }), { code: "stdout_failed" });
}
