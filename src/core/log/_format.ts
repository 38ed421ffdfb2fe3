import type { LogEntry, SerializedError } from "./_entry.ts";
import type { LineLevel } from "./_options.ts";

export interface TextFormatOptions {
  /** ANSI colours; the caller decides (TTY and NO_COLOR), formatting does not look at the environment. */
  color: boolean;
}

/** Keys every JSON line owns; a field with one of these names is written as `field_<name>` instead of overwriting it. */
const RESERVED = new Set(["time", "level", "msg", "agent_id", "agent_type", "component"]);

/** BigInts would make JSON.stringify throw; Errors nested deep in fields would print as `{}`. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

export function formatJson(entry: LogEntry): string {
  // A null prototype so a field called `__proto__` is data, not a prototype swap.
  const line: Record<string, unknown> = Object.create(null);
  line.time = entry.time.toISOString();
  line.level = entry.level;
  line.msg = entry.msg;
  line.agent_id = entry.agent_id;
  line.agent_type = entry.agent_type;
  line.component = entry.component;
  for (const [key, value] of Object.entries(entry.fields)) line[RESERVED.has(key) ? `field_${key}` : key] = value;
  try {
    return `${JSON.stringify(line, jsonSafe)}\n`;
  } catch (error) {
    // A throwing toJSON in some field must not cost the line itself.
    const fallback = { time: line.time, level: line.level, msg: line.msg, agent_id: line.agent_id, agent_type: line.agent_type, component: line.component };
    return `${JSON.stringify({ ...fallback, log_error: `fields not serialisable: ${String(error)}` })}\n`;
  }
}

const LEVEL_COLOR: Record<LineLevel, string> = {
  trace: "90",
  debug: "36",
  info: "32",
  warn: "33",
  error: "31",
  fatal: "1;35",
};

function paint(color: boolean, code: string, text: string): string {
  return color ? `\u001B[${code}m${text}\u001B[0m` : text;
}

/** Bare when unambiguous (`count=3 state=ok`), quoted otherwise, so `key=value` stays parseable. */
function textValue(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=\\]+$/.test(value) ? value : JSON.stringify(value);
  try {
    return JSON.stringify(value, jsonSafe) ?? String(value);
  } catch {
    return String(value);
  }
}

function isSerializedError(value: unknown): value is SerializedError {
  return typeof value === "object" && value !== null && typeof (value as { message?: unknown }).message === "string";
}

/** `outer; caused by: inner`: the whole chain on one line, where people read first. */
export function describeError(error: SerializedError): string {
  const head = `${error.name ? `${error.name}: ` : ""}${error.message}${error.code === undefined ? "" : ` (${error.code})`}`;
  if (error.cause === undefined) return head;
  const cause = isSerializedError(error.cause)
    ? describeError(error.cause)
    : typeof error.cause === "string"
      ? error.cause
      : textValue(error.cause);
  return `${head}; caused by: ${cause}`;
}

/** Details and stacks of an error chain, one indented line each. */
function errorLines(error: SerializedError, depth = 0): string[] {
  const lines = (error.details ?? []).map((detail) => `    ${detail}`);
  if (error.stack) lines.push(...error.stack.split("\n").map((line) => `    ${depth > 0 ? "[cause] " : ""}${line.trim()}`));
  if (isSerializedError(error.cause)) lines.push(...errorLines(error.cause, depth + 1));
  return lines;
}

export function formatText(entry: LogEntry, options: TextFormatOptions): string {
  const { color } = options;
  const parts = [
    paint(color, "2", entry.time.toISOString()),
    paint(color, LEVEL_COLOR[entry.level], entry.level.toUpperCase().padEnd(5)),
  ];
  if (entry.component) parts.push(paint(color, "1", `[${entry.component}]`));
  parts.push(entry.msg);
  const extra: string[] = [];
  for (const [key, value] of Object.entries(entry.fields)) {
    const isError = entry.errorKeys.includes(key) && isSerializedError(value);
    parts.push(`${paint(color, "2", `${key}=`)}${isError ? JSON.stringify(describeError(value)) : textValue(value)}`);
    if (isError) extra.push(...errorLines(value));
  }
  return `${[parts.join(" "), ...extra].join("\n")}\n`;
}
