import { defineAction } from "stavily/sdk";

/** Counts runs in ctx.state; fails (retryable) while fewer than `failures` runs have happened. */
export default defineAction({
  async execute(ctx, request) {
    const runs = (ctx.state.get<number>("runs") ?? 0) + 1;
    ctx.state.set("runs", runs);
    if (runs <= Number(request.parameters.failures ?? 0)) throw ctx.retryable(new Error(`transient failure ${runs}`));
    return { data: { runs } };
  },
});
