/**
 * Reading the config schema as data: which keys a section has, what kind of value a leaf holds.
 * Environment overrides, did-you-mean suggestions and `config print` all work from this.
 */
import type { FieldUnit } from "./_fields.ts";

/** The parts of a valibot schema object this module looks at. */
interface SchemaNode {
  type: string;
  wrapped?: SchemaNode;
  entries?: Record<string, SchemaNode>;
  item?: SchemaNode;
  value?: SchemaNode;
  pipe?: ReadonlyArray<{ type: string; kind: string; metadata?: { unit?: FieldUnit }; description?: string }>;
}

export type LeafKind = "string" | "number" | "boolean" | "list" | "map" | FieldUnit | "other";

function unwrap(schema: SchemaNode): SchemaNode {
  let node = schema;
  while ((node.type === "optional" || node.type === "nullable" || node.type === "nullish") && node.wrapped) node = node.wrapped;
  return node;
}

/** The schema at `path` (numeric segments step into lists), or undefined when there is none. */
export function schemaAt(root: unknown, path: ReadonlyArray<string | number>): SchemaNode | undefined {
  let node: SchemaNode | undefined = unwrap(root as SchemaNode);
  for (const key of path) {
    if (!node) return undefined;
    if (node.entries) node = node.entries[String(key)];
    else if (node.type === "array" && node.item) node = node.item;
    else if (node.type === "record" && node.value) node = node.value;
    else return undefined;
    if (node) node = unwrap(node);
  }
  return node;
}

/** Keys of the section at `path`, for did-you-mean. */
export function keysAt(root: unknown, path: ReadonlyArray<string | number>): string[] {
  return Object.keys(schemaAt(root, path)?.entries ?? {});
}

export function leafKind(node: SchemaNode): LeafKind {
  const unit = node.pipe?.find((item) => item.type === "metadata")?.metadata?.unit;
  if (unit) return unit;
  switch (node.type) {
    case "string":
    case "picklist":
      return "string";
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "array":
      return "list";
    case "record":
    case "object":
    case "strict_object":
      return "map";
    default:
      return "other";
  }
}

/** Every leaf under the root: scalars, lists and free-form maps, with their paths. */
export function leaves(root: unknown): Array<{ path: string[]; kind: LeafKind }> {
  const out: Array<{ path: string[]; kind: LeafKind }> = [];
  const visit = (node: SchemaNode, path: string[]) => {
    if (node.entries && node.type !== "record") {
      for (const [key, child] of Object.entries(node.entries)) visit(unwrap(child), [...path, key]);
    } else {
      out.push({ path, kind: leafKind(node) });
    }
  };
  visit(unwrap(root as SchemaNode), []);
  return out;
}
