import { describe, expect, test } from "bun:test";
import { StavilyError } from "../../errors.ts";
import { sourceFromInstruction } from "./index.ts";

const SHA = "AB".repeat(32);
const COMMIT = "0123456789abcdef0123456789abcdef01234567";

function problems(config: unknown, options = {}): string {
  try {
    sourceFromInstruction(config, options);
  } catch (error) {
    expect(error).toBeInstanceOf(StavilyError);
    const e = error as StavilyError;
    expect(e.component).toBe("plugin");
    return [e.message, ...e.details].join("\n");
  }
  throw new Error("expected a refusal");
}

describe("plugin_configuration.source → install source", () => {
  test("a repository at a version (tag), a branch or a commit", () => {
    const url = "https://git.example.com/acme/plugins.git";
    expect(sourceFromInstruction({ source: { repository_url: url, version: "v1.2.0", sub_directory: "triggers/x" } })).toEqual({
      source: { type: "git", url, ref: { kind: "tag", name: "v1.2.0" }, subDirectory: "triggers/x" },
    });
    expect(sourceFromInstruction({ source: { repository_url: url, branch: "stable" } }).source).toMatchObject({
      ref: { kind: "branch", name: "stable" },
    });
    expect(sourceFromInstruction({ source: { repository_url: url, commit: COMMIT.toUpperCase() } }).source).toMatchObject({
      ref: { kind: "commit", name: COMMIT },
    });
  });

  test("an archive URL with its sha256 and the version it must hold", () => {
    const url = "https://downloads.example.com/p-1.0.0.tgz";
    expect(sourceFromInstruction({ source: { archive_url: url, sha256: SHA, version: "1.0.0" } })).toEqual({
      source: { type: "archive_url", url, sha256: SHA.toLowerCase() },
      expectedVersion: "1.0.0",
    });
  });

  test("allowUnverified comes from the agent's options, never from the instruction", () => {
    const url = "https://downloads.example.com/p.tgz";
    expect(sourceFromInstruction({ source: { archive_url: url, allowUnverified: true } }).source).not.toHaveProperty("allowUnverified");
    expect(sourceFromInstruction({ source: { archive_url: url } }, { allowUnverified: true }).source).toMatchObject({ allowUnverified: true });
  });

  test("invalid sources are refused with every problem listed", () => {
    expect(problems({})).toContain("plugin_configuration.source is not valid");
    expect(problems({ source: { repository_url: "https://x/y", archive_url: "https://x/y.tgz" } })).toContain(
      "exactly one of repository_url and archive_url",
    );
    expect(problems({ source: { repository_url: "https://x/y" } })).toContain("needs a pinned version, tag, branch or commit");
    expect(problems({ source: { repository_url: "https://x/y", tag: "a", branch: "b" } })).toContain("at most one of");
    expect(problems({ source: { archive_url: "https://x/y.tgz", branch: "b" } })).toContain("apply to repository_url only");
    expect(problems({ source: { archive_url: "https://x/y.tgz", sha256: "abc" } })).toContain("sha256: must be 64 hex digits");
    expect(problems({ source: { repository_url: "https://x/y", commit: "abc123" } })).toContain("commit: must be a full hex commit id");
  });

  test("only https (or loopback http) URLs: no file://, no plain http to other hosts", () => {
    expect(problems({ source: { repository_url: "file:///etc", tag: "v1" } })).toContain("must be an https URL");
    expect(problems({ source: { archive_url: "http://mirror.example.com/p.tgz", sha256: SHA } })).toContain("must be an https URL");
    expect(sourceFromInstruction({ source: { archive_url: "http://127.0.0.1:8080/p.tgz", sha256: SHA } }).source.type).toBe("archive_url");
  });
});
