// A trigger: detect reports what config.mode says; watch pushes one event at start and then waits.
import { defineTrigger } from "../../../../sdk/index.ts";

let runs = 0;

export default defineTrigger<{ mode?: string }>({
  detect(ctx) {
    runs++;
    switch (ctx.config.mode) {
      case "none":
        return null;
      case "one":
        return { type: "disk.full", severity: "high", data: { mount: "/", runs } };
      case "garbage":
        return [{ type: "ok" }, { severity: "nope" }] as never;
      case "count": {
        // Numbers its runs in ctx.state, as a cursor.
        const n = ctx.state.get<number>("n") ?? 0;
        ctx.state.set("n", n + 1);
        return { type: "count", data: { n } };
      }
      case "throw-once":
        if (runs === 1) throw new Error("first run fails");
        return [{ type: "recovered" }];
      default:
        return [
          { type: "cpu.high", severity: "medium", data: { load: 97.5 }, dedupe_key: "cpu" },
          { type: "mem.high", tags: ["x"] },
        ];
    }
  },
  async watch(ctx, emit) {
    emit({ type: "watch.started", data: { instance: ctx.agent.id } });
    emit({ bogus: true } as never);
    await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
  },
  stop(ctx) {
    ctx.logger.info("stopping");
  },
});
