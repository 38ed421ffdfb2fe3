/** The example configs in deployments/config/ stay valid for the plugins they name. */
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { BUILTIN_PLUGINS } from "../plugins/all.ts";
import { loadConfig } from "../src/core/config/index.ts";
import { parseBuiltinManifest, validatePluginConfig } from "../src/core/plugin/manifest/index.ts";

const dir = join(import.meta.dir, "..", "deployments", "config");

describe.each(readdirSync(dir).filter((name) => name.endsWith(".yaml")))("deployments/config/%s", (name) => {
  const { config } = loadConfig({ configFile: join(dir, name), env: {} });

  test("every trigger names a built-in trigger plugin and its config is valid for it", () => {
    for (const trigger of config.sensor.triggers) {
      const builtin = BUILTIN_PLUGINS[trigger.plugin];
      expect(builtin?.kind, `${trigger.id}: ${trigger.plugin}`).toBe("trigger");
      const manifest = parseBuiltinManifest(trigger.plugin, builtin!.manifest);
      const checked = validatePluginConfig(manifest, { ...(config.plugins.config[trigger.plugin] ?? {}), ...trigger.config }, `${trigger.id}.config`);
      expect(checked.ok ? [] : checked.problems, trigger.id).toEqual([]);
    }
  });

  test("every plugins.config entry names a built-in and is valid for it", () => {
    for (const [id, local] of Object.entries(config.plugins.config)) {
      const builtin = BUILTIN_PLUGINS[id];
      expect(builtin, id).toBeDefined();
      const checked = validatePluginConfig(parseBuiltinManifest(id, builtin!.manifest), local, `plugins.config.${id}`);
      expect(checked.ok ? [] : checked.problems, id).toEqual([]);
    }
  });
});
