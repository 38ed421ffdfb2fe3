import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { generated } from "../scripts/gen-config-docs.ts";

describe("generated docs", () => {
  test.each(generated.map((item) => [item.file, item.render] as const))("%s is current (run bun scripts/gen-config-docs.ts)", (file, render) => {
    expect(readFileSync(file, "utf8")).toBe(render());
  });
});
