/**
 * `stavily plugin install <source>`: a plugin directory, a .tar.gz/.tgz/.zip file, an https URL of
 * one (with --sha256), or a git repository (a URL ending in .git, git@…, ssh://…, or any source with
 * --ref) into the agent's plugins directory. The previous version stays for `rollback`.
 */
import { statSync } from "node:fs";
import path from "node:path";
import { EXIT, usageError } from "../../core/errors.ts";
import { prepareAgentHome } from "../../core/home/index.ts";
import { installPlugin, validateManifest, type GitRef, type InstallSource } from "../../core/plugin/install/index.ts";
import { loadAgentConfig, type PluginFlags } from "./_common.ts";

export interface InstallFlags extends PluginFlags {
  sha256?: string;
  ref?: string;
  subDir?: string;
  /** Install again over the same version. */
  force?: boolean;
}

const ARCHIVE = /\.(tar\.gz|tgz|zip)$/i;
const HEX64 = /^[0-9a-f]{64}$/i;
const COMMIT = /^([0-9a-f]{40}|[0-9a-f]{64})$/i;

/** What kind of source `arg` is; a usage error when it is none. Exported for tests. */
export function sourceOf(arg: string, flags: Pick<InstallFlags, "sha256" | "ref" | "subDir">): InstallSource {
  const sha256 = flags.sha256 === undefined ? undefined : String(flags.sha256).toLowerCase();
  if (sha256 !== undefined && !HEX64.test(sha256)) throw usageError("cli", "--sha256: expected 64 hex digits");
  const sub = flags.subDir === undefined ? {} : { subDirectory: String(flags.subDir) };
  const isGit = /\.git\/?$/.test(arg) || arg.startsWith("git@") || arg.startsWith("ssh://") || flags.ref !== undefined;
  if (isGit) {
    if (flags.ref === undefined) throw usageError("cli", `${arg} is a git repository: pin what to install with --ref <tag>, --ref branch:<name> or --ref <commit>`);
    if (sha256 !== undefined) throw usageError("cli", "--sha256 applies to archives, not git repositories");
    return { type: "git", url: arg, ref: gitRef(String(flags.ref)), ...sub };
  }
  if (/^https?:\/\//i.test(arg)) {
    if (!ARCHIVE.test(new URL(arg).pathname)) throw usageError("cli", `${arg}: expected the URL of a .tar.gz, .tgz or .zip (or a git repository ending in .git, or --ref)`);
    if (sha256 === undefined) throw usageError("cli", `${arg}: an archive from a URL needs --sha256 <hex> (sha256sum of the archive)`);
    return { type: "archive_url", url: arg, sha256, ...sub };
  }
  const stat = statSync(arg, { throwIfNoEntry: false });
  if (!stat) throw usageError("cli", `${arg} does not exist (expected a plugin directory, an archive, an https URL or a git URL)`);
  if (stat.isDirectory()) {
    if (sha256 !== undefined) throw usageError("cli", "--sha256 applies to archives, not directories");
    return { type: "directory", path: path.resolve(arg), ...sub };
  }
  if (!ARCHIVE.test(arg)) throw usageError("cli", `${arg}: expected a plugin directory or a .tar.gz, .tgz or .zip archive`);
  return { type: "archive", path: path.resolve(arg), ...(sha256 !== undefined && { sha256 }), ...sub };
}

/** `v1.2.0` (a tag), `tag:v1.2.0`, `branch:main`, `commit:<sha>` or a bare 40/64-hex commit. */
function gitRef(ref: string): GitRef {
  const match = /^(tag|branch|commit):(.+)$/.exec(ref);
  if (match) return { kind: match[1] as GitRef["kind"], name: match[2]! };
  return COMMIT.test(ref) ? { kind: "commit", name: ref.toLowerCase() } : { kind: "tag", name: ref };
}

export async function installCommand(arg: string, flags: InstallFlags): Promise<number> {
  if (!arg) throw usageError("cli", "missing what to install: a directory, an archive, an https URL or a git URL");
  const source = sourceOf(String(arg), flags);
  const { config } = loadAgentConfig(flags);
  prepareAgentHome(config.agent.base_dir, config.agent.id);
  const installed = await installPlugin(source, { pluginsDir: config.plugins.directory, validate: validateManifest, replace: flags.force ?? false });
  if (flags.json) {
    console.log(JSON.stringify(installed, null, 2));
    return EXIT.ok;
  }
  const previous = installed.previous ? `previous ${installed.previous}, kept for rollback` : "no previous version";
  console.log(`ok: installed ${installed.id}@${installed.version} (${previous}) in ${installed.dir}`);
  if (installed.bundle) console.log(`bundled: ${path.relative(installed.dir, installed.bundle)}`);
  console.log("running agents load it on their next start or plugin reload");
  return EXIT.ok;
}
