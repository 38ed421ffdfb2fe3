import { afterEach, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { StavilyError } from "../../errors.ts";
import { installPlugin, validateManifest } from "./index.ts";
import { writeTree } from "./_testkit.ts";
import { tempDirs } from "../../../../test/support/temp.ts";

const temp = tempDirs("stavily-install-");
afterEach(() => temp.cleanup());
const scratch = () => temp.make();

const MANIFEST = (version: string, entry = "main.ts") => `plugin:
  id: "echo"
  name: "Echo"
  version: "${version}"
  type: "action"
  runtime:
    type: "bun"
    entry_point: "${entry}"
`;

test("with the real manifest loader, a valid plugin installs and an invalid one is refused with the loader's error", async () => {
  const pluginsDir = path.join(scratch(), "plugins");
  const good = writeTree(scratch(), { "plugin.yaml": MANIFEST("1.0.0"), "main.ts": "export {};\n" });
  expect(await installPlugin({ type: "directory", path: good }, { pluginsDir, validate: validateManifest })).toMatchObject({
    id: "echo",
    version: "1.0.0",
  });

  const bad = writeTree(scratch(), { "plugin.yaml": MANIFEST("2.0.0", "missing.ts") });
  const error = await installPlugin({ type: "directory", path: bad }, { pluginsDir, validate: validateManifest }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(StavilyError);
  expect((error as StavilyError).component).toBe("plugin");
  expect(JSON.parse(fs.readFileSync(path.join(pluginsDir, "echo", "current"), "utf8")).version).toBe("1.0.0");
});
