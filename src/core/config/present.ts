/**
 * The effective config as people write it: durations and sizes back in their units, secrets
 * redacted. Used by `config print` and, later, `/status`.
 */
import { stringify } from "yaml";
import { redact } from "../redact.ts";
import type { Config } from "./load.ts";
import { ConfigSchema } from "./schema.ts";
import { formatDuration, formatSize } from "./units.ts";
import { leafKind, schemaAt } from "./_walk.ts";

export function presentConfig(config: Config): Record<string, unknown> {
  return redact(withUnits(config, []) as Record<string, unknown>);
}

function withUnits(value: unknown, path: Array<string | number>): unknown {
  if (Array.isArray(value)) return value.map((item, index) => withUnits(item, [...path, index]));
  if (value !== null && typeof value === "object") {
    const node = schemaAt(ConfigSchema, path);
    // Free-form maps (plugin configs) are the user's own data: printed as written.
    if (node?.type === "record") return value;
    // Keys in the schema's order (derived ones like agent.name were added last).
    const order = Object.keys(node?.entries ?? {});
    const keys = Object.keys(value).sort((a, b) => rank(order, a) - rank(order, b));
    return Object.fromEntries(keys.map((key) => [key, withUnits((value as Record<string, unknown>)[key], [...path, key])]));
  }
  if (typeof value === "number") {
    const node = schemaAt(ConfigSchema, path);
    const kind = node && leafKind(node);
    if (kind === "duration") return formatDuration(value);
    if (kind === "size") return formatSize(value);
  }
  return value;
}

function rank(order: string[], key: string): number {
  const index = order.indexOf(key);
  return index === -1 ? order.length : index;
}

export function configToYaml(config: Config): string {
  return stringify(presentConfig(config), { lineWidth: 0 });
}
