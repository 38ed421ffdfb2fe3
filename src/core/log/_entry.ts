import { StavilyError } from "../errors.ts";
import { redact, redactText } from "../redact.ts";
import type { LineLevel, LogIdentity } from "./_options.ts";

/** An Error as plain data: `redact` copies Errors without their cause, so they are flattened before it runs. */
export interface SerializedError {
  name?: string;
  message: string;
  /** Node's error code (`ENOENT`, `ECONNREFUSED`), the part people search for. */
  code?: string | number;
  component?: string;
  details?: string[];
  cause?: unknown;
  stack?: string;
}

/** One log line before formatting; every string in it has been through redaction. */
export interface LogEntry extends LogIdentity {
  time: Date;
  level: LineLevel;
  msg: string;
  component?: string;
  fields: Record<string, unknown>;
  /** Keys of `fields` that held an Error, so formatters can render them as errors. */
  errorKeys: string[];
}

export interface EntryContext {
  identity: LogIdentity;
  component?: string;
  /** Stacks are noise in day-to-day logs; they are kept only when debugging. */
  withStack: boolean;
}

/** Guards against cause cycles (`a.cause = b; b.cause = a`). */
const MAX_CAUSE_DEPTH = 8;

export function serializeError(error: Error, withStack: boolean, depth = 0): SerializedError {
  const out: SerializedError = { message: error.message };
  if (error.name && error.name !== "Error") out.name = error.name;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" || typeof code === "number") out.code = code;
  if (error instanceof StavilyError) {
    out.component = error.component;
    if (error.details.length > 0) out.details = error.details;
  }
  if (error.cause !== undefined) {
    if (!(error.cause instanceof Error)) out.cause = error.cause;
    else if (depth < MAX_CAUSE_DEPTH) out.cause = serializeError(error.cause, withStack, depth + 1);
  }
  if (withStack && error.stack) out.stack = error.stack;
  return out;
}

export function buildEntry(
  level: LineLevel,
  time: Date,
  msg: unknown,
  fields: Record<string, unknown> | undefined,
  context: EntryContext,
): LogEntry {
  const plain: Record<string, unknown> = {};
  const errorKeys: string[] = [];
  for (const [key, value] of Object.entries(fields ?? {})) {
    if (value === undefined) continue;
    if (value instanceof Error) {
      plain[key] = serializeError(value, context.withStack);
      errorKeys.push(key);
    } else {
      plain[key] = value;
    }
  }
  return {
    time,
    level,
    msg: redactText(typeof msg === "string" ? msg : String(msg)),
    agent_id: context.identity.agent_id,
    agent_type: context.identity.agent_type,
    component: context.component,
    fields: redact(plain),
    errorKeys,
  };
}
