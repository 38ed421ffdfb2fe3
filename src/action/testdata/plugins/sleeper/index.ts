import { defineAction } from "stavily/sdk";

/** `stubborn: true` spins and never looks at its signal, so only a kill stops it. */
export default defineAction({
  async execute(ctx, request, signal) {
    ctx.logger.info("sleeping", { id: request.id });
    if (request.parameters.stubborn) for (;;) {}
    await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    return { status: "failed", data: { aborted: true } };
  },
});
