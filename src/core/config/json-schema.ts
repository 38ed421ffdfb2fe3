/** The JSON Schema of the config file, for editors (yaml-language-server) and docs. */
import { toJsonSchema } from "@valibot/to-json-schema";
import { ConfigSchema } from "./schema.ts";

export function configJsonSchema(): Record<string, unknown> {
  const schema = toJsonSchema(ConfigSchema, { target: "draft-07", typeMode: "input", errorMode: "throw" });
  const { $schema, ...rest } = schema;
  return {
    $schema,
    $id: "https://stavily.dev/schemas/agent-config.json",
    title: "Stavily agent configuration",
    description: "Configuration of a Stavily sensor or action agent (stavily.yaml).",
    ...rest,
  };
}
