/**
 * The agent's bearer token: from security.auth.token_file (re-read whenever the file changes, so a
 * rotated token is used without a restart), else security.auth.api_key, else $STAVILY_AGENT_TOKEN.
 */
import { readFileSync, statSync } from "node:fs";
import { assertPrivateFile } from "../secret-file.ts";
import { usageError } from "../errors.ts";
import type { Logger } from "../log/index.ts";
import { registerSecret } from "../redact.ts";

export interface TokenSource {
  /** The token to send. With a token file, one stat() first; a changed file is re-read. */
  current(): string;
  /** Re-reads the token file now (after a 401/403); true when that gave a different token. */
  reload(): boolean;
  /** Increases each time the token changes; lets the auth gate see a rotation. */
  readonly generation: number;
}

export interface TokenOptions {
  tokenFile: string;
  apiKey: string;
  method: "api_key" | "jwt";
  env: Record<string, string | undefined>;
  logger?: Logger;
}

export function createTokenSource(options: TokenOptions): TokenSource {
  const { tokenFile, logger } = options;
  let generation = 0;
  let token = tokenFile ? readTokenFile(tokenFile) : normalize(options.apiKey || options.env.STAVILY_AGENT_TOKEN || "");
  if (!token) {
    throw usageError("api", "no token for the orchestrator", {
      details: ["set security.auth.token_file (a file holding the token), security.auth.api_key, or the environment variable STAVILY_AGENT_TOKEN"],
    });
  }
  let signature = tokenFile ? fileSignature(tokenFile) : "";
  let warnedUnreadable = false;
  accept(token);

  function accept(value: string): void {
    registerSecret(value);
    if (options.method === "jwt") warnIfExpired(value, logger);
  }

  function reload(): boolean {
    try {
      signature = fileSignature(tokenFile);
      const next = readTokenFile(tokenFile);
      warnedUnreadable = false;
      if (next === token) return false;
      token = next;
      generation++;
      accept(next);
      logger?.info("token file changed; using the new token", { token_file: tokenFile });
      return true;
    } catch (error) {
      // Keep the last good token: a file half-way through being replaced must not stop the agent.
      if (!warnedUnreadable) logger?.warn("cannot read the token file; keeping the previous token", { token_file: tokenFile, error: error as Error });
      warnedUnreadable = true;
      return false;
    }
  }

  return {
    current() {
      if (tokenFile && safeSignature(tokenFile) !== signature) reload();
      return token;
    },
    reload: () => (tokenFile ? reload() : false),
    get generation() {
      return generation;
    },
  };
}

/** A leading "Bearer " is tolerated, since tokens are often copied from a header. */
export function normalize(raw: string): string {
  return raw.trim().replace(/^bearer\s+/i, "").trim();
}

function readTokenFile(file: string): string {
  assertPrivateFile(file, "security.auth.token_file");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw usageError("api", `cannot read security.auth.token_file ${file}: ${(error as Error).message}`, { cause: error });
  }
  const token = normalize(text);
  if (!token) throw usageError("api", `security.auth.token_file ${file} is empty`);
  return token;
}

function fileSignature(file: string): string {
  const stat = statSync(file);
  return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
}

function safeSignature(file: string): string {
  try {
    return fileSignature(file);
  } catch {
    return "missing";
  }
}

/** Decodes (never verifies: the orchestrator does that) the `exp` of a JWT, to explain a coming refusal. */
export function jwtExpiry(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { exp?: unknown };
    return typeof claims.exp === "number" ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

function warnIfExpired(token: string, logger: Logger | undefined): void {
  const expiry = jwtExpiry(token);
  if (expiry === undefined && token.split(".").length !== 3) {
    logger?.warn("security.auth.method is jwt, but the token is not a JWT");
  } else if (expiry !== undefined && expiry <= Date.now()) {
    logger?.warn("the agent's JWT has expired; the orchestrator will refuse it", { expired_at: new Date(expiry).toISOString() });
  }
}
