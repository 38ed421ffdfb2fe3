/** plugin.yaml and README.md of a scaffold, per kind and runtime. Embedded in the binary as text. */
import type { PluginKind } from "../../../core/plugin/types.ts";

export type ScaffoldRuntime = "bun" | "python";

export interface ScaffoldVars {
  id: string;
  name: string;
  kind: PluginKind;
  runtime: ScaffoldRuntime;
}

const ENTRY: Record<ScaffoldRuntime, string> = { bun: "index.ts", python: "main.py" };

/** What each kind does out of the box: small, real, and testable without a network. */
function body(vars: ScaffoldVars): { description: string; configuration: string[]; permissions: string; idempotent: boolean } {
  switch (vars.kind) {
    case "trigger":
      // ctx.system gives bun plugins CPU usage; a python plugin has the load average without extra packages.
      return vars.runtime === "bun"
        ? {
            description: "Reports an event when CPU usage reaches a threshold",
            configuration: ["threshold:", "  type: number", "  description: CPU usage in percent at which an event is reported", "  default: 90", "  minimum: 0", "  maximum: 100"],
            permissions: "network: false",
            idempotent: false,
          }
        : {
            description: "Reports an event when the 1-minute load average reaches a threshold",
            configuration: ["threshold:", "  type: number", "  description: Load average (1 minute) at which an event is reported", "  default: 4", "  minimum: 0"],
            permissions: "network: false",
            idempotent: false,
          };
    case "action":
      return {
        description: "Greets whoever the request names",
        configuration: ["greeting:", "  type: string", "  description: Word put in front of the name", "  default: Hello", "  min_length: 1"],
        permissions: "network: false",
        idempotent: true,
      };
    case "output":
      return {
        description: "Posts each batch of events as JSON to a URL (logs it when no URL is set)",
        configuration: ["url:", "  type: string", "  description: Where batches are POSTed; empty logs them instead", '  default: ""', "  format: uri"],
        permissions: "network: true",
        idempotent: false,
      };
  }
}

export function pluginYaml(vars: ScaffoldVars): string {
  const spec = body(vars);
  const indent = (lines: string[], by: string) => lines.map((line) => by + line).join("\n");
  return `# Manifest reference: docs/plugins.md ("Manifest"). Check it with: stavily plugin validate .
plugin:
  id: ${vars.id}
  name: ${vars.name}
  description: ${spec.description}
  version: "0.1.0"
  author: ""
  license: ""
  type: ${vars.kind}
  runtime:
    type: ${vars.runtime}
    entry_point: ${ENTRY[vars.runtime]}
  configuration:
${indent(spec.configuration, "    ")}
  limits:
    memory: 64MiB
    execution_time: 30s
  permissions:
    ${spec.permissions}
  idempotent: ${spec.idempotent}
  tags: []
`;
}

const TRY: Record<PluginKind, string> = {
  trigger: `stavily plugin run . --once --config '{"threshold":0}'   # one detect; each event is a JSON line
stavily plugin run . --interval 5s                        # every 5 s until Ctrl-C`,
  action: `stavily plugin run . --input '{"name":"SRE"}'             # logs on stderr, the result on stdout`,
  output: `stavily plugin run . --input '[{"type":"demo"}]'          # sends one batch`,
};

export function readme(vars: ScaffoldVars): string {
  const test = vars.runtime === "bun" ? "bun test" : "python3 -m unittest";
  return `# ${vars.id} (${vars.kind})

${body(vars).description}.

| config | see plugin.yaml |
| --- | --- |

## Develop

\`\`\`sh
${test}                                   # the plugin's own test
${TRY[vars.kind]}
stavily plugin validate .                  # manifest, and the plugin starts as an agent would start it
stavily plugin install .                   # into the agent's plugins directory (-c <agent config>)
\`\`\`

The authoring guide (SDK, ctx, stdio protocol, manifest, sandbox) is docs/plugins.md in the Stavily repository.
`;
}
