import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { findBuiltins, PLUGINS_DIR, renderRegistry } from "../scripts/gen-plugins.ts";
import { BUILTIN_PLUGINS } from "./all.ts";

test("plugins/all.ts is current (run `bun scripts/gen-plugins.ts` after adding a plugin)", () => {
  expect(readFileSync(join(PLUGINS_DIR, "all.ts"), "utf8")).toBe(renderRegistry(findBuiltins()));
});

test("every built-in loads and exports a plugin object of its kind", async () => {
  const required = { trigger: ["detect", "watch"], action: ["execute"], output: ["send"] } as const;
  for (const [id, builtin] of Object.entries(BUILTIN_PLUGINS)) {
    const plugin = (await builtin.load()).default as Record<string, unknown>;
    expect(typeof plugin, id).toBe("object");
    expect(required[builtin.kind].some((hook) => typeof plugin[hook] === "function"), `${id} has ${required[builtin.kind].join(" or ")}`).toBe(true);
  }
});
