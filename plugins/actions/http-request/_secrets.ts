/**
 * Secrets reach a request only as `${env:NAME}` references, resolved on the agent from variables
 * the agent-local `secret_env` lists. A credential written in clear in the instruction is refused:
 * instructions are stored by the orchestrator, journalled by the agent and shown to admins, so a
 * secret in one is already leaked. Every resolved value is scrubbed from what the action returns,
 * so a server that echoes a request back cannot hand the secret to the instruction's author.
 */
import { failure } from "./_errors.ts";

const REFERENCE = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;
/** Header names whose value is a credential. */
const SENSITIVE_HEADER = /^(?:authorization|proxy-authorization|cookie|set-cookie)$|token|secret|passw|api[-_]?key|auth|session|signature/i;
/** Query parameter names whose value is a credential. */
const SENSITIVE_QUERY = /token|secret|passw|api[-_]?key|access[-_]?key|signature|^sig$|^key$|auth/i;
/** What may stand beside the references in a sensitive header: at most an auth scheme word ("Bearer "). */
const SCHEME_ONLY = /^\s*(?:[A-Za-z][A-Za-z0-9-]*\s*)?$/;
/** Shorter values are not scrubbed from responses: replacing "a" everywhere would hide nothing and break the body. */
const MIN_SCRUB_LENGTH = 4;

export const REDACTED = "[redacted]";

export function isSensitiveHeader(name: string): boolean {
  return SENSITIVE_HEADER.test(name);
}

/**
 * Resolves references against the allowed variables. `readEnv` is the seam to the agent's
 * environment; `used` collects the values resolved, for scrubbing.
 */
export function createResolver(allowed: readonly string[], readEnv: (name: string) => string | undefined) {
  const used = new Set<string>();
  return {
    used,
    resolve(text: string, where: string): string {
      return text.replace(REFERENCE, (_, name: string) => {
        if (!allowed.includes(name)) throw failure("not_allowed", `${where}: \${env:${name}}: ${name} is not in secret_env (${allowed.join(", ") || "none listed"})`);
        const value = readEnv(name);
        if (value === undefined || value === "") throw failure("not_allowed", `${where}: \${env:${name}}: ${name} is not set in the agent's environment`);
        if (value.length >= MIN_SCRUB_LENGTH) used.add(value);
        return value;
      });
    },
  };
}

export const hasReference = (text: string) => new RegExp(REFERENCE.source).test(text);

/** Refuses a sensitive header whose value carries anything but references and an auth scheme. */
export function checkHeaderCredential(name: string, value: string): void {
  if (!isSensitiveHeader(name)) return;
  if (!hasReference(value) || !SCHEME_ONLY.test(value.replace(REFERENCE, ""))) {
    throw failure("not_allowed", `parameters.headers.${name}: looks like a credential in clear; write it as \${env:NAME} with NAME in secret_env`);
  }
}

/** Refuses user:password@ and sensitive query parameters with a clear value; references only in the query. */
export function checkUrlCredential(template: string): void {
  const query = template.indexOf("?");
  if (hasReference(query === -1 ? template : template.slice(0, query))) {
    throw failure("not_allowed", "parameters.url: ${env:…} references are resolved only in the query string");
  }
  let url: URL;
  try {
    url = new URL(template);
  } catch {
    return; // reported by the caller, which parses the resolved URL
  }
  if (url.username !== "" || url.password !== "") {
    throw failure("not_allowed", "parameters.url: credentials in the URL are refused; send them in a header as ${env:NAME}");
  }
  const raw = query === -1 ? "" : template.slice(query + 1).split("#")[0] ?? "";
  for (const pair of raw.split("&")) {
    const [name = "", value = ""] = pair.split("=", 2);
    if (value !== "" && SENSITIVE_QUERY.test(decodeURIComponentSafe(name)) && !hasReference(value)) {
      throw failure("not_allowed", `parameters.url: query parameter ${name} looks like a credential in clear; write it as \${env:NAME}`);
    }
  }
}

/** `text` with every resolved secret replaced by [redacted]. */
export function scrub(text: string, secrets: ReadonlySet<string>): string {
  let out = text;
  for (const secret of secrets) out = out.replaceAll(secret, REDACTED);
  return out;
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
