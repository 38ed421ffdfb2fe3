/**
 * A YAML document that remembers where each value was written, so every problem in a config file
 * or a plugin manifest can be reported as file:line:column.
 */
import { isMap, isPair, isScalar, LineCounter, parseDocument, parse as parseYaml, visit, type Document, type Scalar } from "yaml";

export interface Position {
  line: number;
  col: number;
}

export interface YamlSource {
  doc: Document.Parsed;
  lines: LineCounter;
}

export interface YamlProblem {
  position?: Position;
  message: string;
}

export function parseYamlSource(text: string): { source: YamlSource; problems: YamlProblem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems = doc.errors.map((error) => ({
    position: lines.linePos(error.pos[0]),
    message: `invalid YAML: ${error.message.split("\n")[0]}`,
  }));
  return { source: { doc, lines }, problems };
}

const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in string values (`$$` is a literal `$`). A plain
 * (unquoted) scalar is read again as YAML afterwards, so `port: ${PORT}` yields a number.
 * Returns one problem per unset variable without a default.
 */
export function interpolate(source: YamlSource, env: Record<string, string | undefined>): YamlProblem[] {
  const problems: YamlProblem[] = [];
  visit(source.doc, {
    Scalar(key, node) {
      if (key === "key" || typeof node.value !== "string" || !node.value.includes("$")) return;
      const text = node.value.replace(REFERENCE, (match, name: string | undefined, fallback: string | undefined) => {
        if (match === "$$") return "$";
        const value = env[name!];
        if (value !== undefined && value !== "") return value;
        if (fallback !== undefined) return fallback;
        problems.push({ position: positionOf(source, node), message: `environment variable ${name} is not set (write \${${name}:-default} to give a default)` });
        return "";
      });
      node.value = node.type === "PLAIN" ? reparse(text) : text;
    },
  });
  return problems;
}

function reparse(text: string): unknown {
  try {
    const value = parseYaml(text);
    return value === null || typeof value === "object" ? text : value;
  } catch {
    return text;
  }
}

function positionOf(source: YamlSource, node: { range?: [number, number, number] | null } | null | undefined): Position | undefined {
  const offset = node?.range?.[0];
  if (offset === undefined) return undefined;
  const { line, col } = source.lines.linePos(offset);
  return { line, col };
}

/**
 * Where the value at `path` was written, or for `at: "key"` where its key was; falls back to the
 * nearest ancestor that exists, so a missing key points at the section that lacks it.
 */
export function locate(source: YamlSource, path: ReadonlyArray<string | number>, at: "key" | "value" = "value"): Position | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const prefix = path.slice(0, depth);
    if (depth === path.length && at === "key" && depth > 0) {
      const parent = prefix.length > 1 ? source.doc.getIn(prefix.slice(0, -1), true) : source.doc.contents;
      const last = prefix[prefix.length - 1];
      if (isMap(parent)) {
        const pair = parent.items.find((item) => isPair(item) && isScalar(item.key) && String((item.key as Scalar).value) === String(last));
        const found = positionOf(source, pair?.key as Scalar | undefined);
        if (found) return found;
      }
      continue;
    }
    const node = depth === 0 ? source.doc.contents : source.doc.getIn(prefix, true);
    const found = positionOf(source, node as Scalar | undefined);
    if (found) return found;
  }
  return undefined;
}
