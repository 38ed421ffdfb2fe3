/**
 * External plugins are loaded from disk by a binary with no node_modules beside it, so `stavily/sdk`
 * is served from inside the worker: a virtual module with the SDK's runtime helpers. Types come from
 * the SDK package at the plugin's build time; at run time these identity helpers are all it needs.
 */
import * as sdk from "../../../sdk/index.ts";

export const SDK_SPECIFIERS = ["stavily/sdk", "@stavily/sdk"] as const;

/** Call once in the worker, before any plugin module is imported. */
export function registerSdkModule(): void {
  const exports = { ...sdk };
  Bun.plugin({
    name: "stavily-sdk",
    setup(build) {
      for (const specifier of SDK_SPECIFIERS) build.module(specifier, () => ({ loader: "object", exports }));
    },
  });
}
