import type { PluginLogger } from "../../../../sdk/types.ts";
import type { LogLevelName, WorkerMessage } from "../_protocol.ts";

type Fields = Record<string, unknown>;

/**
 * Lines are posted to the host, which rate-limits and writes them. Fields are reduced to JSON first:
 * anything structured clone refuses (functions, sockets) must not make a log call throw.
 */
export function createPluginLogger(post: (message: WorkerMessage) => void, call?: number): PluginLogger {
  const emit = (level: LogLevelName) => (msg: string, fields?: Fields | Error) => {
    const line: WorkerMessage = { t: "log", level, msg: String(msg), fields: toFields(fields), call };
    try {
      post(line);
    } catch {
      // The host is gone; nothing to log to.
    }
  };
  return { trace: emit("trace"), debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

function toFields(fields: Fields | Error | undefined): Fields | undefined {
  if (fields === undefined) return undefined;
  if (fields instanceof Error) return { error: fields.message };
  try {
    const json = JSON.stringify(fields, (_key, value) => (value instanceof Error ? value.message : typeof value === "bigint" ? String(value) : value));
    return json === undefined ? undefined : (JSON.parse(json) as Fields);
  } catch (error) {
    return { fields_unserializable: (error as Error).message };
  }
}
