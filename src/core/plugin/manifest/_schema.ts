/**
 * The schema of `plugin.yaml`, compatible with the manifests of the Go Stavily agents. Known
 * sections are strict (an unknown key is an error with a did-you-mean); the legacy keys those
 * agents documented are accepted: `runtime.version` (an interpreter hint like "3.8+", shown, not
 * enforced), `runtime.requirements` as one file name, `limits.cpu` as a string, the Go
 * `Info` fields `homepage`, `repository` and `metadata`, and an empty section (`configuration:`
 * followed only by a comment, as in their template) meaning the defaults.
 */
import path from "node:path";
import * as v from "valibot";
import { AGENT_ID_PATTERN, parseDuration, parseSize } from "../../config/index.ts";
import type { PluginKind, PluginRuntimeType } from "../types.ts";
import { FieldSpecSchema, type FieldSpec } from "./_field.ts";

export const PLUGIN_KINDS = ["trigger", "action", "output"] as const satisfies readonly PluginKind[];
export const RUNTIMES = ["bun", "python", "node", "bash", "executable"] as const satisfies readonly PluginRuntimeType[];

// semver.org's own expression, without named groups.
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** True when `relative` names something inside its base directory (not the directory itself). */
export function staysInside(relative: string): boolean {
  if (relative.includes("\0") || path.posix.isAbsolute(relative) || path.win32.isAbsolute(relative)) return false;
  const normal = path.posix.normalize(relative.replaceAll("\\", "/"));
  return normal !== "." && normal !== ".." && !normal.startsWith("../");
}

const insidePath = (what: string) =>
  v.pipe(v.string(`expected ${what}`), v.check(staysInside, `expected ${what}: a relative path inside the plugin directory`));

const strings = () => v.nullish(v.array(v.string("expected a string")), () => []);
/** `config:<field>` entries are filled from the operator's local config at launch (see launch.ts). */
const absolutePaths = () =>
  v.nullish(
    v.array(
      v.pipe(
        v.string("expected a path"),
        v.check((item) => path.isAbsolute(item) || /^config:[A-Za-z_][A-Za-z0-9_]*$/.test(item), 'expected an absolute path or "config:<field>"'),
      ),
    ),
    () => [],
  );

function unit(expected: string, parse: (input: string | number) => number | undefined) {
  return v.nullish(
    v.pipe(
      v.union([v.number(), v.string()], expected),
      v.rawTransform<string | number, number>(({ dataset, addIssue, NEVER }) => {
        const value = parse(dataset.value);
        if (value === undefined) {
          addIssue({ message: expected });
          return NEVER;
        }
        return value;
      }),
    ),
    0,
  );
}

const parseCores = (input: string | number) => {
  const value = typeof input === "number" ? input : /^\s*\d+(\.\d+)?\s*$/.test(input) ? Number(input) : undefined;
  return value !== undefined && Number.isFinite(value) && value >= 0 ? value : undefined;
};

const runtime = v.pipe(
  v.strictObject(
    {
      type: v.picklist(RUNTIMES),
      entry_point: insidePath("the entry point"),
      requirements: v.nullish(
        v.union([insidePath("a requirements file"), v.array(v.string("expected a string"))], "expected a list of packages or a requirements file name"),
        () => [],
      ),
      version: v.optional(v.union([v.string(), v.number()], 'expected an interpreter version like "3.8+"')),
    },
    "expected a mapping with type and entry_point",
  ),
  v.transform(({ requirements, version, ...rest }) => ({
    ...rest,
    requirements: typeof requirements === "string" ? [] : requirements,
    ...(typeof requirements === "string" && { requirements_file: requirements }),
    ...(version !== undefined && { version: String(version) }),
  })),
);

const limits = v.strictObject(
  {
    memory: unit('expected a size like "128MB" or a number of bytes', parseSize),
    cpu: unit("expected a number of CPU cores like 0.5", parseCores),
    execution_time: unit('expected a duration like "30s" or a number of seconds', parseDuration),
  },
  "expected a mapping of memory, cpu, execution_time",
);

const permissions = v.strictObject(
  {
    network: v.nullish(v.boolean(), false),
    filesystem: v.nullish(v.strictObject({ read: absolutePaths(), write: absolutePaths() }, "expected a mapping of read and write"), {}),
    exec: strings(),
    system_calls: strings(),
    capabilities: strings(),
  },
  "expected a mapping of permissions",
);

const body = v.strictObject(
  {
    id: v.pipe(v.string(), v.regex(AGENT_ID_PATTERN, "expected a plugin id of 1-63 characters: a-z, 0-9, '.', '_' or '-', starting with a letter or digit")),
    name: v.pipe(v.string(), v.minLength(1, "expected a non-empty name")),
    description: v.nullish(v.string(), ""),
    version: v.pipe(v.string('expected a semantic version like "1.2.0" (quote it)'), v.regex(SEMVER, 'expected a semantic version like "1.2.0"')),
    author: v.nullish(v.string(), ""),
    license: v.nullish(v.string(), ""),
    homepage: v.optional(v.string()),
    repository: v.optional(v.string()),
    type: v.picklist(PLUGIN_KINDS),
    runtime,
    configuration: v.nullish(v.record(v.string(), FieldSpecSchema, "expected a mapping of field name to field declaration"), () => ({})),
    limits: v.nullish(limits, {}),
    permissions: v.nullish(permissions, {}),
    idempotent: v.nullish(v.boolean(), false),
    tags: strings(),
    categories: strings(),
    metadata: v.optional(v.record(v.string(), v.unknown())),
  },
  "expected the plugin's id, name, version, type and runtime",
);

export const ManifestSchema = v.strictObject({ plugin: body }, "expected a mapping with the root key plugin:");

/** What plugin.yaml declares, every default applied, limits in bytes / cores / milliseconds. */
export interface ManifestBody {
  id: string;
  name: string;
  description: string;
  /** Semantic version. */
  version: string;
  author: string;
  license: string;
  homepage?: string;
  repository?: string;
  type: PluginKind;
  runtime: {
    type: PluginRuntimeType;
    /** Relative to the plugin directory; never outside it. */
    entry_point: string;
    /** Packages to install (pip / npm specifiers). */
    requirements: string[];
    /** The legacy form `requirements: requirements.txt`: a file inside the plugin directory. */
    requirements_file?: string;
    /** Legacy interpreter hint, e.g. "3.8+"; shown, not enforced. */
    version?: string;
  };
  configuration: Record<string, FieldSpec>;
  /** 0 = not declared. */
  limits: { memory: number; cpu: number; execution_time: number };
  permissions: {
    network: boolean;
    filesystem: { read: string[]; write: string[] };
    exec: string[];
    system_calls: string[];
    capabilities: string[];
  };
  /** An action that may safely run again after an agent crash interrupted it. */
  idempotent: boolean;
  tags: string[];
  categories: string[];
  /** Legacy free-form metadata of the Go agents. */
  metadata?: Record<string, unknown>;
}

// Keeps the schema and the documented interface from drifting apart.
type Assert<T extends true> = T;
type _Same = Assert<v.InferOutput<typeof body> extends ManifestBody ? true : false>;
