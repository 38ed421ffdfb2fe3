import * as v from "valibot";
import { defineAction } from "../../../src/sdk/index.ts";

/** Returns the request's parameters; the smallest complete action, used by tests and `plugin run`. */
export default defineAction({
  configSchema: v.object({
    /** Added to `data.message` when the request has a `message` parameter. */
    prefix: v.optional(v.string(), ""),
  }),
  execute(ctx, request) {
    ctx.logger.info("echo", { request_id: request.id, parameters: Object.keys(request.parameters).length });
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
