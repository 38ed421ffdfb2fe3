/**
 * Overrides from the environment (`STAVILY_API_BASE_URL=…`) and the command line
 * (`--set api.base_url=…`), resolved against the schema's known keys and coerced to each key's kind.
 */
import { ConfigSchema } from "./schema.ts";
import { leaves, type LeafKind } from "./_walk.ts";
import { didYouMean } from "../yaml/index.ts";

export interface Override {
  path: string[];
  value: unknown;
  /** Where the value came from, used in place of file:line in error reports. */
  origin: string;
}

export interface OverrideResult {
  overrides: Override[];
  problems: Array<{ origin: string; message: string }>;
  warnings: string[];
}

const ENV_PREFIX = "STAVILY_";
/** Variables of ours that are not config keys. */
const NOT_CONFIG = new Set(["STAVILY_CONFIG", "STAVILY_AGENT_TOKEN"]);

let leafIndex: Map<string, { path: string[]; kind: LeafKind }> | undefined;
function knownLeaves() {
  leafIndex ??= new Map(leaves(ConfigSchema).map((leaf) => [leaf.path.join("."), leaf]));
  return leafIndex;
}

const envName = (path: string[]) => ENV_PREFIX + path.join("_").toUpperCase();

export function fromEnv(env: Record<string, string | undefined>): OverrideResult {
  const byName = new Map([...knownLeaves().values()].map((leaf) => [envName(leaf.path), leaf]));
  const result: OverrideResult = { overrides: [], problems: [], warnings: [] };
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || text === undefined || NOT_CONFIG.has(name)) continue;
    const leaf = byName.get(name);
    if (!leaf) {
      result.warnings.push(`environment variable ${name} is not a config key and is ignored${didYouMean(name, [...byName.keys()])}`);
      continue;
    }
    result.overrides.push({ path: leaf.path, value: coerce(leaf.kind, text), origin: `env ${name}` });
  }
  return result;
}

/** `--set key.path=value`, repeatable. */
export function fromFlags(assignments: readonly string[]): OverrideResult {
  const result: OverrideResult = { overrides: [], problems: [], warnings: [] };
  for (const assignment of assignments) {
    const origin = `--set ${assignment}`;
    const eq = assignment.indexOf("=");
    if (eq <= 0) {
      result.problems.push({ origin, message: "expected key.path=value" });
      continue;
    }
    const key = assignment.slice(0, eq).trim();
    const leaf = knownLeaves().get(key);
    if (!leaf) {
      result.problems.push({ origin, message: `unknown config key "${key}"${didYouMean(key, [...knownLeaves().keys()])}` });
      continue;
    }
    result.overrides.push({ path: leaf.path, value: coerce(leaf.kind, assignment.slice(eq + 1)), origin });
  }
  return result;
}

const TRUE = new Set(["true", "1", "yes", "on"]);
const FALSE = new Set(["false", "0", "no", "off"]);

/** Text to the key's kind; text that does not fit is passed on as is, so validation names it. */
export function coerce(kind: LeafKind, text: string): unknown {
  const trimmed = text.trim();
  switch (kind) {
    case "number":
      return trimmed !== "" && Number.isFinite(Number(trimmed)) ? Number(trimmed) : text;
    case "boolean":
      if (TRUE.has(trimmed.toLowerCase())) return true;
      if (FALSE.has(trimmed.toLowerCase())) return false;
      return text;
    case "list":
      if (trimmed.startsWith("[")) return parseJson(trimmed);
      return trimmed === "" ? [] : trimmed.split(",").map((item) => item.trim());
    case "map":
      return parseJson(trimmed);
    default:
      return text;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Writes each override into the raw config, creating sections as needed. */
export function applyOverrides(raw: Record<string, unknown>, overrides: readonly Override[]): void {
  for (const { path, value } of overrides) {
    let node = raw;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (next === null || typeof next !== "object" || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = value;
  }
}
