/** Which rules an event fires, and the instruction each one makes from it. Pure functions. */
import type { NewInstruction } from "../store/instructions.ts";
import type { StoredEvent } from "../store/events.ts";
import type { RuleBody } from "../schemas.ts";

export interface Rule extends RuleBody {
  id: string;
  created_at: string;
}

export function matches(rule: Rule, event: StoredEvent): boolean {
  const m = rule.match;
  if (m.type !== event.type) return false;
  if (m.source !== undefined && m.source !== event.source) return false;
  if (m.severity !== undefined && m.severity !== event.severity) return false;
  if (m.agent_id !== undefined && m.agent_id !== event.agent_id) return false;
  for (const [key, expected] of Object.entries(m.data ?? {})) {
    if (event.data[key] !== expected) return false;
  }
  return true;
}

const WHOLE = /^\{\{\s*([\w.-]+)\s*\}\}$/;
const ANY = /\{\{\s*([\w.-]+)\s*\}\}/g;

function lookup(path: string, event: StoredEvent): unknown {
  const [root, ...rest] = path.split(".");
  if (root !== "event") return undefined;
  let value: unknown = event;
  for (const key of rest) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/**
 * A string that is exactly one `{{…}}` becomes the value itself (a number stays a number); templates
 * inside longer text are replaced by their text. Unknown paths become empty.
 */
export function render(value: unknown, event: StoredEvent): unknown {
  if (typeof value === "string") {
    const whole = WHOLE.exec(value);
    if (whole) return lookup(whole[1]!, event) ?? "";
    return value.replace(ANY, (_, path: string) => {
      const found = lookup(path, event);
      if (found === undefined || found === null) return "";
      return typeof found === "object" ? JSON.stringify(found) : String(found);
    });
  }
  if (Array.isArray(value)) return value.map((item) => render(item, event));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, render(item, event)]));
  }
  return value;
}

/** The instruction a rule makes for an event; its idempotency key makes a rule fire once per event. */
export function instructionFor(rule: Rule, event: StoredEvent, now: number): NewInstruction {
  const a = rule.action;
  return {
    agent_id: a.agent_id,
    plugin_id: a.plugin_id,
    instruction_type: a.instruction_type,
    plugin_configuration: render(a.plugin_configuration, event) as Record<string, unknown>,
    input_data: render(a.input_data, event) as Record<string, unknown>,
    context: { ...(a.context ?? {}), event_id: event.id, event_type: event.type, rule_id: rule.id },
    variables: a.variables,
    timeout_seconds: a.timeout_seconds,
    max_retries: a.max_retries,
    priority: a.priority,
    correlation_id: a.correlation_id ?? event.id,
    expires_at: a.expires_in !== undefined ? now + a.expires_in : a.expires_at !== undefined ? Date.parse(a.expires_at) : undefined,
    idempotency_key: `rule:${rule.id}:${event.agent_id}:${event.id}`,
    rule_id: rule.id,
    event_id: event.id,
  };
}
