/**
 * Secret redaction shared by logging, `config print`, `/status` and the audit log: a secret
 * must not reach any of them, whichever way it travels (as a field, inside a message, or as a
 * value the config loaded that turns up somewhere unexpected).
 */

export const REDACTED = "[REDACTED]";

/** Keys whose values are secrets. Paths to secrets (`token_file`, `key_file`) are not. */
const SECRET_KEY = /pass(word|wd|phrase)?|secret|token|api[_-]?key|private[_-]?key|authorization|credential|cookie/i;
const PATH_KEY = /(_file|_path|_dir|_url)$/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) && !PATH_KEY.test(key);
}

/** Patterns of secrets inside free text. */
const SECRET_TEXT: Array<[RegExp, string]> = [
  [/-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?(-----END \1PRIVATE KEY-----|$)/g, `-----BEGIN $1PRIVATE KEY-----${REDACTED}`],
  [/\b(authorization\s*[:=]\s*)("?)(bearer\s+|basic\s+)?[^\s",;]+/gi, `$1$2$3${REDACTED}`],
  [/\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, `$1${REDACTED}`],
  [
    /\b((?:api[_-]?key|access[_-]?token|auth[_-]?token|token|password|passwd|secret|client[_-]?secret)"?\s*[:=]\s*"?)([^\s",;&]+)/gi,
    `$1${REDACTED}`,
  ],
];

/** Values known to be secret (the loaded API key, the token read from a file). */
const knownSecrets = new Set<string>();

/** Remember a secret value so it is scrubbed from any text, whatever key carried it. */
export function registerSecret(value: string | undefined | null): void {
  // Very short values would scrub innocent text; real tokens are long.
  if (value && value.length >= 6) knownSecrets.add(value);
}

export function redactText(text: string): string {
  let out = text;
  for (const secret of knownSecrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  for (const [pattern, replacement] of SECRET_TEXT) out = out.replace(pattern, replacement);
  return out;
}

/**
 * A deep copy of `value` with secret keys replaced and every string scrubbed.
 * Cycles and depth are bounded so any object can be passed safely.
 */
export function redact<T>(value: T, depth = 0, seen = new WeakSet<object>()): T {
  if (typeof value === "string") return redactText(value) as T;
  if (value === null || typeof value !== "object") return value;
  if (depth > 12 || seen.has(value)) return "[…]" as T;
  seen.add(value);
  if (value instanceof Error) {
    const copy = new Error(redactText(value.message));
    copy.name = value.name;
    copy.stack = value.stack ? redactText(value.stack) : undefined;
    return copy as T;
  }
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1, seen)) as T;
  if (value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = isSecretKey(key) && item !== undefined && item !== null && item !== "" ? REDACTED : redact(item, depth + 1, seen);
  }
  return out as T;
}
