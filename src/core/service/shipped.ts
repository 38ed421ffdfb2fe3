/**
 * The service files shipped in deployments/: the systemd templates and launchd plists as install
 * writes them with the defaults. A test keeps them current; `bun src/core/service/shipped.ts` rewrites them.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AGENT_TYPES } from "../config/index.ts";
import { DEFAULT_USER, layoutFor, templateName } from "./_layout.ts";
import { renderPlist } from "./_launchd.ts";
import { defaultStopTimeoutSeconds, renderTemplate } from "./_systemd.ts";

/** Stands for the agent id in the shipped plists: not a valid id, so it cannot be installed by mistake. */
const PLACEHOLDER_ID = "ID";

/** Paths relative to the repository root, with their content. */
export function shippedFiles(): Array<{ file: string; text: string }> {
  const linux = layoutFor("linux");
  const darwin = layoutFor("darwin");
  const user = { user: DEFAULT_USER, group: DEFAULT_USER };
  return AGENT_TYPES.flatMap((type) => {
    const ref = { type, id: PLACEHOLDER_ID };
    return [
      { file: `deployments/systemd/${templateName(type)}`, text: renderTemplate({ type, binary: linux.binary, configDir: linux.configDir, baseDir: linux.baseDir, ...user }) },
      {
        file: `deployments/launchd/io.stavily.${type}.${PLACEHOLDER_ID}.plist`,
        text: renderPlist({
          ref,
          binary: darwin.binary,
          configFile: `${darwin.configDir}/${type}-${PLACEHOLDER_ID}.yaml`,
          home: `${darwin.baseDir}/agent-${PLACEHOLDER_ID}`,
          stopTimeoutSec: defaultStopTimeoutSeconds(type),
          ...user,
        }),
      },
    ];
  });
}

if (import.meta.main) {
  const root = join(import.meta.dir, "..", "..", "..");
  for (const { file, text } of shippedFiles()) writeFileSync(join(root, file), text);
}
