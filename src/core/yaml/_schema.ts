/**
 * Reading a valibot schema as data: which keys a section has, for did-you-mean. Shared by the
 * agent config and plugin manifests, whose schemas are both trees of (strict) objects.
 */

/** The parts of a valibot schema object the walkers look at. */
export interface SchemaNode {
  type: string;
  wrapped?: SchemaNode;
  entries?: Record<string, SchemaNode>;
  item?: SchemaNode;
  value?: SchemaNode;
  options?: readonly SchemaNode[];
  getter?: (input: unknown) => SchemaNode;
  pipe?: ReadonlyArray<{ type: string; kind: string; metadata?: Record<string, unknown>; description?: string }>;
}

/** Steps through optional/nullable wrappers and lazy (recursive) schemas. */
export function unwrap(schema: SchemaNode): SchemaNode {
  let node = schema;
  for (;;) {
    if ((node.type === "optional" || node.type === "nullable" || node.type === "nullish") && node.wrapped) node = node.wrapped;
    else if (node.type === "lazy" && node.getter) node = node.getter(undefined);
    else return node;
  }
}

/**
 * The schema at `path` (numeric segments step into lists), or undefined when there is none. In a
 * union, the first option that has the next key is followed.
 */
export function schemaAt(root: unknown, path: ReadonlyArray<string | number>): SchemaNode | undefined {
  let node: SchemaNode | undefined = unwrap(root as SchemaNode);
  for (const key of path) {
    if (!node) return undefined;
    node = child(node, key);
    if (node) node = unwrap(node);
  }
  return node;
}

function child(node: SchemaNode, key: string | number): SchemaNode | undefined {
  if (node.entries) return node.entries[String(key)];
  if (node.type === "array" && node.item) return node.item;
  if (node.type === "record" && node.value) return node.value;
  if (node.type === "union" && node.options) {
    for (const option of node.options) {
      const found = child(unwrap(option), key);
      if (found) return found;
    }
  }
  return undefined;
}

/** Keys of the section at `path`, for did-you-mean. */
export function keysAt(root: unknown, path: ReadonlyArray<string | number>): string[] {
  const node = schemaAt(root, path);
  if (node?.entries) return Object.keys(node.entries);
  const objects = node?.type === "union" ? (node.options ?? []).map(unwrap).filter((option) => option.entries) : [];
  return objects.flatMap((option) => Object.keys(option.entries!));
}
