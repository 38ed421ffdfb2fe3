import { expect, test } from "bun:test";
import * as v from "valibot";
import { defineAction, defineOutput, defineTrigger, retryable } from "./index.ts";

test("define* return the plugin unchanged; ctx.config is typed from configSchema", () => {
  const action = defineAction({
    configSchema: v.object({ retries: v.number(), url: v.optional(v.string(), "http://x") }),
    execute(ctx) {
      // Compile-time checks: these assignments fail `tsc` if inference breaks.
      const retries: number = ctx.config.retries;
      const url: string = ctx.config.url;
      return { data: { retries, url } };
    },
  });
  const trigger = defineTrigger({ detect: () => ({ type: "x" }) });
  const output = defineOutput({ send: () => {} });
  expect(typeof action.execute).toBe("function");
  expect(trigger.detect).toBeFunction();
  expect(output.send).toBeFunction();
});

test("retryable marks errors and wraps non-errors", () => {
  const error = new Error("503");
  expect(retryable(error)).toBe(error);
  expect((error as Error & { retryable?: boolean }).retryable).toBe(true);
  const wrapped = retryable("busy");
  expect(wrapped).toBeInstanceOf(Error);
  expect(wrapped.message).toBe("busy");
});
