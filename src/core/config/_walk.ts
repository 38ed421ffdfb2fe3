/**
 * Reading the config schema as data: which keys a section has, what kind of value a leaf holds.
 * Environment overrides, did-you-mean suggestions and `config print` all work from this.
 */
import type { FieldUnit } from "./_fields.ts";
import { unwrap, type SchemaNode } from "../yaml/index.ts";

export { schemaAt } from "../yaml/index.ts";

export type LeafKind = "string" | "number" | "boolean" | "list" | "map" | FieldUnit | "other";

export function leafKind(node: SchemaNode): LeafKind {
  const unit = node.pipe?.find((item) => item.type === "metadata")?.metadata?.unit as FieldUnit | undefined;
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
