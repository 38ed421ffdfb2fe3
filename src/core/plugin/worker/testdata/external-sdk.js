// An external plugin as a plugin author ships it: imports the SDK by its package name, which the
// worker provides (no node_modules beside it). Plain JS so the repo's tsc does not resolve it.
import { defineAction, retryable } from "stavily/sdk";

export default defineAction({
  execute(ctx, request) {
    if (request.type === "retry") throw retryable(new Error("try later"));
    return { data: { sdk: typeof defineAction } };
  },
});
