import * as v from "valibot";
import { defineAction } from "../../../src/sdk/index.ts";

/**
 * Returns the request's parameters; the smallest complete action, used by tests, demos, benchmarks
 * and `plugin run`. `sleep_ms` makes it take a while, and ends early when the call is aborted.
 */
export default defineAction({
  configSchema: v.object({
    /** Added to `data.message` when the request has a `message` parameter. */
    prefix: v.optional(v.string(), ""),
  }),
  async execute(ctx, request) {
    ctx.logger.info("echo", { request_id: request.id, parameters: Object.keys(request.parameters).length });
    const sleepMs = parseSleep(request.parameters.sleep_ms);
    if (sleepMs > 0) {
      ctx.logger.info("sleeping", { ms: sleepMs });
      await sleep(sleepMs, ctx.signal);
    }
    const message = request.parameters.message;
    return {
      status: "completed",
      data: {
        parameters: request.parameters,
        ...(typeof message === "string" ? { message: `${ctx.config.prefix}${message}` } : {}),
        agent: ctx.agent.id,
      },
    };
  },
});

/**
 * The longest sleep. Longer than the manifest's execution_time (5s) on purpose: an instruction's
 * timeout overrides that, and without one the call's deadline aborts the sleep.
 */
const MAX_SLEEP_MS = 600_000;

const SleepSchema = v.optional(
  v.pipe(
    v.number("expected a number of milliseconds"),
    v.integer("expected whole milliseconds"),
    v.minValue(0, "expected 0 or more"),
    v.maxValue(MAX_SLEEP_MS, `expected at most ${MAX_SLEEP_MS}`),
  ),
  0,
);

function parseSleep(value: unknown): number {
  const result = v.safeParse(SleepSchema, value);
  if (result.success) return result.output;
  throw Object.assign(new Error(`invalid parameter sleep_ms: ${result.issues[0].message}`), { code: "invalid_parameters" });
}

/** Resolves after `ms`, or rejects (code "aborted") as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const abort = () => {
      clearTimeout(timer);
      const why = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? "aborted");
      reject(Object.assign(new Error(`sleep aborted: ${why}`), { code: "aborted" }));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", abort);
      resolve();
    }, ms);
    if (signal.aborted) abort();
    else signal.addEventListener("abort", abort, { once: true });
  });
}
