import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { generated } from "../scripts/gen-config-docs.ts";

describe("generated docs", () => {
  test.each(generated.map((item) => [item.file, item.render] as const))("%s is current (run bun scripts/gen-config-docs.ts)", (file, render) => {
    expect(readFileSync(file, "utf8")).toBe(render());
  });
});

describe("links", () => {
  const root = join(import.meta.dir, "..");
  const documents = ["README.md", ...readdirSync(join(root, "docs")).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`)];

  test("README links every document in docs/", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const missing = documents.filter((doc) => doc !== "README.md" && !readme.includes(`](${doc})`));
    expect(missing).toEqual([]);
  });

  test.each(documents)("every relative link in %s resolves", (doc) => {
    const text = readFileSync(join(root, doc), "utf8");
    const targets = [...text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((match) => match[1]!).filter((target) => !/^[a-z]+:/.test(target));
    expect(targets.filter((target) => !existsSync(join(root, dirname(doc), target)))).toEqual([]);
  });
});
