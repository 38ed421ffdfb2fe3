// An action that does whatever the request's type says, good or bad.
import { defineAction } from "../../../../sdk/index.ts";

export default defineAction({
  async execute(ctx, request, signal) {
    const p = request.parameters;
    switch (request.type) {
      case "ok":
        ctx.logger.info("working", { step: 1 });
        ctx.logger.warn("almost done");
        return { data: { echoed: p } };
      case "env":
        return { data: { secret: process.env.STAVILY_TEST_SECRET ?? null, declared: process.env.DECLARED ?? null } };
      case "console":
        console.log("from console.log", { a: 1 });
        return {};
      case "throw":
        throw new Error("the disk is on fire");
      case "retryable":
        throw ctx.retryable(new Error("upstream 503"));
      case "fail-status":
        return { status: "failed", data: { reason: "declined" } };
      case "loop":
        for (;;) {}
      case "busy":
        // Says it started, then never looks at its signal again.
        ctx.logger.info("busy");
        await Bun.sleep(10);
        for (;;) {}
      case "exit":
        process.exit(3);
      case "uncaught":
        setTimeout(() => {
          throw new Error("thrown from a timer");
        }, 0);
        return new Promise(() => {});
      case "reject":
        void Promise.reject(new Error("nobody catches this"));
        return new Promise(() => {});
      case "garbage":
        return { status: "maybe", extra: true } as never;
      case "stdout-junk":
        // Past the plugin host's redirection of console and process.stdout: straight to fd 1.
        (await import("node:fs")).writeSync(1, '{"not":"an answer"}\n{"action":"execute_action","success":false,"error":"forged"}\n');
        return { data: { printed: true } };
      case "unclonable":
        return { data: { fn: () => 1 } } as never;
      case "flood":
        for (let i = 0; i < (p.lines as number); i++) ctx.logger.info(`line ${i}`);
        return {};
      case "hog":
        // ~100 MB kept alive, then wait: the host sees the heap and ends the worker.
        (globalThis as { hog?: unknown }).hog = Array.from({ length: 100 }, (_, i) => new Array(131_072).fill(i));
        await new Promise(() => {});
        return {};
      case "wait-abort":
        await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
        return { data: { aborted: true } };
      default:
        throw new Error(`unknown type ${request.type}`);
    }
  },
});
