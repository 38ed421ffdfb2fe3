/** Agent tokens: only SHA-256 hashes are stored, compared in constant time; the tokens file is read here. */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import * as v from "valibot";
import { parse } from "yaml";
import { errorMessage, usageError } from "../../core/errors.ts";

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** Hex hashes of equal length compared without an early exit, so timing tells nothing about a prefix. */
export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, "hex");
  const right = Buffer.from(b, "hex");
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Compares two secrets of any length in constant time (through their hashes). */
export function sameSecret(given: string, expected: string): boolean {
  return sameHash(hashToken(given), hashToken(expected));
}

export function generateToken(prefix = "stv"): string {
  return `${prefix}_${randomBytes(32).toString("base64url")}`;
}

const TokensFileSchema = v.record(
  v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
  v.pipe(v.string(), v.minLength(8, "a token must have at least 8 characters")),
);

/** `--tokens FILE`: a YAML map of agent id → token. */
export function readTokensFile(file: string): Record<string, string> {
  let data: unknown;
  try {
    data = parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw usageError("orchestrator", `--tokens: cannot read ${file}: ${errorMessage(error)}`, { cause: error });
  }
  const parsed = v.safeParse(TokensFileSchema, data ?? {});
  if (!parsed.success) {
    const details = parsed.issues.map((issue) => `${v.getDotPath(issue) ?? "(file)"}: ${issue.message}`);
    throw usageError("orchestrator", `--tokens: ${file} must be a map of agent id to token`, { details });
  }
  // A shared token could not tell its agents apart (and 403 relies on one owner per token).
  const owners = new Map<string, string>();
  for (const [agentId, token] of Object.entries(parsed.output)) {
    const other = owners.get(token);
    if (other !== undefined) throw usageError("orchestrator", `--tokens: ${file} gives agents "${other}" and "${agentId}" the same token`);
    owners.set(token, agentId);
  }
  return parsed.output;
}
