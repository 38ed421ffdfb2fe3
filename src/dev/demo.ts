/**
 * The demo's configuration: two agents that trust the local orchestrator, a file-watch trigger on a
 * directory the demo writes to, and a rule that turns each new file into an echo instruction.
 */
import { join } from "node:path";

export const SENSOR_ID = "dev-sensor";
export const ACTION_ID = "dev-action";

export function agentConfig(type: "sensor" | "action", options: { dir: string; url: string; watched: string }): string {
  const common = [
    "agent:",
    `  type: ${type}`,
    `  id: ${type === "sensor" ? SENSOR_ID : ACTION_ID}`,
    `  base_dir: ${join(options.dir, "agents")}`,
    "  heartbeat: 2s",
    "api:",
    `  base_url: ${options.url}`,
    "security:",
    // The demo runs as whoever starts it, root included (a throwaway machine, a container).
    "  allow_root: true",
    "  auth:",
    `    api_key: dev-${type}-token`,
    "logging:",
    "  level: info",
  ];
  if (type === "action") return [...common, "action:", "  max_concurrent_tasks: 2", ""].join("\n");
  return [
    ...common,
    "sensor:",
    "  flush_interval: 200ms",
    "  triggers:",
    "    - plugin: file-watch",
    "      id: demo-files",
    "      interval: 1s",
    "      severity: low",
    "      config:",
    `        paths: [${JSON.stringify(options.watched)}]`,
    '        globs: ["*.txt"]',
    "",
  ].join("\n");
}

/** file.created → echo on the action agent, with the file's path in the message. */
export const RULE = {
  name: "demo: say hello to every new file",
  match: { type: "file.created" },
  action: {
    agent_id: ACTION_ID,
    plugin_id: "echo",
    instruction_type: "execute",
    input_data: { message: "hello, {{event.data.path}}" },
    timeout_seconds: 30,
  },
};
