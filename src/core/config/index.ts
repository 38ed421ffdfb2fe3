export { loadConfig, defaultAgentId, type Config, type LoadOptions, type LoadedConfig } from "./load.ts";
export { configToYaml, presentConfig } from "./present.ts";
export { configJsonSchema } from "./json-schema.ts";
export { AGENT_TYPES, AGENT_ID_PATTERN, ConfigSchema, type AgentType, type ConfigInput, type TriggerConfig } from "./schema.ts";
export { parseDuration, parseSize, formatDuration, formatSize } from "./units.ts";
export { formatProblem, type ConfigProblem } from "./_issues.ts";
