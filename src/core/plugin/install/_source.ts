/**
 * `plugin_configuration.source` of a `plugin_install` or `plugin_update` instruction, and the install source it
 * stands for. Whether an unverified archive URL may be installed is the agent operator's choice
 * (`allowUnverified`), never the instruction's: a compromised orchestrator must not be able to turn checks off.
 */
import * as v from "valibot";
import { StavilyError } from "../../errors.ts";
import type { InstallSource } from "./_install.ts";
import { remoteUrl } from "./_url.ts";

const text = v.pipe(v.string(), v.trim(), v.minLength(1, "must not be empty"), v.maxLength(2048));

export const PluginSourceSchema = v.pipe(
  v.object({
    /** A git repository (https). */
    repository_url: v.optional(text),
    /** A .tar.gz, .tgz or .zip (https). */
    archive_url: v.optional(text),
    /** git: the tag to check out. Archives: the version the plugin must declare. */
    version: v.optional(text),
    tag: v.optional(text),
    branch: v.optional(text),
    commit: v.optional(v.pipe(v.string(), v.toLowerCase(), v.regex(/^([0-9a-f]{40}|[0-9a-f]{64})$/, "must be a full hex commit id"))),
    /** Hex SHA-256 of the archive; required for archive_url unless the agent allows unverified archives. */
    sha256: v.optional(v.pipe(v.string(), v.toLowerCase(), v.regex(/^[0-9a-f]{64}$/, "must be 64 hex digits"))),
    /** The plugin's directory inside the repository or archive. */
    sub_directory: v.optional(text),
  }),
  v.check((s) => (s.repository_url === undefined) !== (s.archive_url === undefined), "give exactly one of repository_url and archive_url"),
  v.check(
    (s) => [s.version, s.tag, s.branch, s.commit].filter((x) => x !== undefined).length <= 1,
    "give at most one of version, tag, branch and commit",
  ),
  v.check(
    (s) => s.repository_url === undefined || [s.version, s.tag, s.branch, s.commit].some((x) => x !== undefined),
    "a repository_url needs a pinned version, tag, branch or commit",
  ),
  v.check(
    (s) => s.archive_url === undefined || [s.tag, s.branch, s.commit].every((x) => x === undefined),
    "tag, branch and commit apply to repository_url only",
  ),
);
export type PluginSourceInput = v.InferInput<typeof PluginSourceSchema>;

export interface InstructionInstall {
  source: InstallSource;
  /** For archives, the version the orchestrator named; pass it on as `expectedVersion`. */
  expectedVersion?: string;
}

/**
 * The install source of an instruction's `plugin_configuration`. Throws a StavilyError listing every problem.
 * Only https (or loopback http) URLs are accepted here; local paths and file:// are for the operator's CLI.
 */
export function sourceFromInstruction(pluginConfiguration: unknown, options: { allowUnverified?: boolean } = {}): InstructionInstall {
  const config = (pluginConfiguration ?? {}) as { source?: unknown };
  const parsed = v.safeParse(PluginSourceSchema, config.source);
  if (!parsed.success) {
    throw new StavilyError("plugin", "plugin_configuration.source is not valid", {
      details: parsed.issues.map((issue) => `${v.getDotPath(issue) ?? "source"}: ${issue.message}`),
    });
  }
  const s = parsed.output;
  const subDirectory = s.sub_directory === undefined ? {} : { subDirectory: s.sub_directory };
  if (s.archive_url !== undefined) {
    remoteUrl(s.archive_url, "archive_url");
    const source: InstallSource = { type: "archive_url", url: s.archive_url, ...subDirectory };
    if (s.sha256 !== undefined) source.sha256 = s.sha256;
    if (options.allowUnverified === true) source.allowUnverified = true;
    return s.version === undefined ? { source } : { source, expectedVersion: s.version };
  }
  const url = s.repository_url ?? "";
  remoteUrl(url, "repository_url");
  const ref =
    s.commit !== undefined
      ? { kind: "commit" as const, name: s.commit }
      : s.branch !== undefined
        ? { kind: "branch" as const, name: s.branch }
        : { kind: "tag" as const, name: s.tag ?? s.version ?? "" };
  return { source: { type: "git", url, ref, ...subDirectory } };
}
