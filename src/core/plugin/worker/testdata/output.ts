// An output: counts what it is sent; health and stop as config says.
import * as v from "valibot";
import { defineOutput } from "../../../../sdk/index.ts";

let sent = 0;

export default defineOutput({
  configSchema: v.object({ degraded: v.optional(v.boolean(), false), hangOnStop: v.optional(v.boolean(), false) }),
  send(ctx, batch) {
    if (batch.length === 0) throw new Error("empty batch");
    sent += batch.length;
    ctx.logger.debug("sent", { count: batch.length });
  },
  health(ctx) {
    return ctx.config.degraded ? { status: "degraded", message: `sent ${sent}` } : { status: "healthy", message: `sent ${sent}` };
  },
  async stop(ctx) {
    if (ctx.config.hangOnStop) await new Promise(() => {});
  },
});
