/**
 * A shallow checkout of one pinned ref. git runs with no prompt, no system or user configuration, no
 * submodules, only the URL's own protocol allowed, object checks on, and a deadline per command.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { StavilyError } from "../../errors.ts";
import { baseEnv, run } from "./_run.ts";
import { redactUrl, remoteUrl } from "./_url.ts";

export type GitRefKind = "tag" | "branch" | "commit";

export interface GitRef {
  kind: GitRefKind;
  name: string;
}

const REF_NAME = /^[A-Za-z0-9][A-Za-z0-9._/+-]{0,199}$/;
const COMMIT = /^([0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * Checks out `ref` of the repository at `url` into `dir` (which must not exist) and returns the commit.
 * `url` is https (or loopback http), `file://…`, or an absolute path to a local repository.
 */
export async function gitCheckout(url: string, ref: GitRef, dir: string, timeoutMs: number): Promise<{ commit: string }> {
  const shown = redactUrl(url);
  checkRef(ref);
  const protocol = allowedProtocol(url);
  const home = `${dir}.home`;
  await fs.mkdir(home, { recursive: true, mode: 0o700 });
  const env = {
    ...baseEnv(home),
    GIT_TERMINAL_PROMPT: "0",
    GIT_ASKPASS: "/bin/false",
    SSH_ASKPASS: "/bin/false",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_ALLOW_PROTOCOL: protocol,
    GIT_LFS_SKIP_SMUDGE: "1",
  };
  const config = ["-c", "transfer.fsckObjects=true", "-c", "submodule.recurse=false", "-c", "advice.detachedHead=false"];
  const git = (args: string[], what: string, cwd = home) =>
    run(["git", ...config, ...args], { cwd, env, timeoutMs, what: `git ${what} of ${shown} at ${ref.kind} ${ref.name}` });

  if (ref.kind === "commit") {
    await git(["init", "--quiet", dir], "init");
    await git(["fetch", "--quiet", "--depth", "1", "--no-tags", "--", url, ref.name], "fetch", dir);
    await git(["checkout", "--quiet", "--detach", "FETCH_HEAD"], "checkout", dir);
  } else {
    await git(
      ["clone", "--quiet", "--depth", "1", "--single-branch", "--no-recurse-submodules", "--branch", ref.name, "--", url, dir],
      "clone",
    );
  }
  const { stdout } = await git(["rev-parse", "HEAD"], "rev-parse", dir);
  const commit = stdout.trim();
  if (ref.kind === "commit" && commit !== ref.name) {
    throw new StavilyError("plugin", `git checkout of ${shown}: got commit ${commit}, expected ${ref.name}`);
  }
  // `clone --branch` takes a branch or a tag, preferring a branch: check we got the kind that was asked for.
  const expected = ref.kind === "tag" ? `refs/tags/${ref.name}^{commit}` : ref.kind === "branch" ? `refs/remotes/origin/${ref.name}` : null;
  if (expected !== null) {
    const resolved = await git(["rev-parse", "--verify", "--quiet", expected], `${ref.kind} check`, dir);
    if (resolved.stdout.trim() !== commit) {
      throw new StavilyError("plugin", `git checkout of ${shown}: ${ref.name} is not the ${ref.kind} that was checked out`);
    }
  }
  return { commit };
}

function checkRef(ref: GitRef): void {
  const ok = ref.kind === "commit" ? COMMIT.test(ref.name) : REF_NAME.test(ref.name) && !ref.name.includes("..");
  if (!ok) {
    const rule = ref.kind === "commit" ? "a full lowercase hex commit id" : "a plain ref name";
    throw new StavilyError("plugin", `git ${ref.kind} ${JSON.stringify(ref.name)} is not ${rule}`);
  }
}

/** The one protocol git may use for `url`; ssh, git:// and ext:: are not offered. */
function allowedProtocol(url: string): string {
  if (url.startsWith("file://")) return "file";
  if (path.isAbsolute(url)) return "file";
  return remoteUrl(url, "plugin repository URL").protocol.replace(":", "");
}
