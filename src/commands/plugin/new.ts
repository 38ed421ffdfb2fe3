/**
 * `stavily plugin new <id> --type trigger|action|output [--runtime bun|python] [--dir .]`: a working
 * plugin folder with its manifest, code, README and a test that passes, so the first edit starts from
 * green. Refuses to write into a folder that exists and is not empty.
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { AGENT_ID_PATTERN } from "../../core/config/index.ts";
import { EXIT, usageError } from "../../core/errors.ts";
import { PLUGIN_KINDS } from "../../core/plugin/manifest/index.ts";
import type { PluginKind } from "../../core/plugin/types.ts";
import { bunFiles } from "./templates/bun.ts";
import { pluginYaml, readme, type ScaffoldRuntime, type ScaffoldVars } from "./templates/manifest.ts";
import { pythonFiles } from "./templates/python.ts";

export interface NewFlags {
  type?: string;
  runtime?: string;
  dir?: string;
  name?: string;
}

const RUNTIMES: readonly ScaffoldRuntime[] = ["bun", "python"];

export function newCommand(id: string, flags: NewFlags): number {
  const vars = checkFlags(id, flags);
  const target = path.resolve(String(flags.dir ?? "."), vars.id);
  const stat = statSync(target, { throwIfNoEntry: false });
  if (stat && (!stat.isDirectory() || readdirSync(target).length > 0)) throw usageError("cli", `${target} exists and is not empty; choose another --dir or id`);
  const files: Record<string, string> = {
    "plugin.yaml": pluginYaml(vars),
    "README.md": readme(vars),
    ...(vars.runtime === "bun" ? bunFiles(vars) : pythonFiles({ ...vars, kind: vars.kind as "trigger" | "action" })),
  };
  mkdirSync(target, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(target, name), text, { mode: name === "main.py" ? 0o755 : 0o644 });
  const relative = path.relative(process.cwd(), target);
  // A bare name would be read as a plugin id by run and info.
  const shown = relative === "" ? "." : relative.startsWith("..") || path.isAbsolute(relative) ? relative : `./${relative}`;
  const test = vars.runtime === "bun" ? "bun test" : "python3 -m unittest";
  const tryIt = {
    trigger: `stavily plugin run ${shown} --once --config '{"threshold":0}'`,
    action: `stavily plugin run ${shown} --input '{"name":"SRE"}'`,
    output: `stavily plugin run ${shown} --input '[{"type":"demo"}]'`,
  }[vars.kind];
  console.log(
    [
      `created ${vars.kind} plugin ${vars.id} (${vars.runtime}) in ${shown}: ${Object.keys(files).sort().join(", ")}`,
      "",
      "next:",
      `  cd ${shown} && ${test}`,
      `  ${tryIt}`,
      `  stavily plugin validate ${shown}`,
      `  stavily plugin install ${shown}`,
    ].join("\n"),
  );
  return EXIT.ok;
}

function checkFlags(id: string, flags: NewFlags): ScaffoldVars {
  if (!id) throw usageError("cli", "missing the plugin id, e.g. stavily plugin new disk-usage --type trigger");
  if (!AGENT_ID_PATTERN.test(String(id))) throw usageError("cli", `plugin id "${id}": expected 1-63 characters a-z, 0-9, '.', '_' or '-', starting with a letter or digit`);
  const kind = flags.type;
  if (kind === undefined) throw usageError("cli", `--type is required: ${PLUGIN_KINDS.join(", ")}`);
  if (!(PLUGIN_KINDS as readonly string[]).includes(kind)) throw usageError("cli", `--type: expected ${PLUGIN_KINDS.join(", ")}, got "${kind}"`);
  const runtime = flags.runtime ?? "bun";
  if (!(RUNTIMES as readonly string[]).includes(runtime)) throw usageError("cli", `--runtime: expected ${RUNTIMES.join(" or ")}, got "${runtime}"`);
  if (runtime === "python" && kind === "output") {
    throw usageError("cli", "output plugins run on bun only: the stdio protocol has no send (use --runtime bun)");
  }
  const name = flags.name ?? String(id).split(/[-_.]/).filter(Boolean).map((word) => word[0]!.toUpperCase() + word.slice(1)).join(" ");
  return { id: String(id), name, kind: kind as PluginKind, runtime: runtime as ScaffoldRuntime };
}
