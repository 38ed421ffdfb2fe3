/** What the action reports of a response: headers with credentials redacted, the body capped. */
import { isSensitiveHeader, REDACTED, scrub } from "./_secrets.ts";

export interface CappedBody {
  text: string;
  /** Bytes kept (at most the cap). */
  bytes: number;
  truncated: boolean;
}

/** Reads at most `max` bytes, then cancels the stream: a huge or endless body costs no more than that. */
export async function readCapped(response: Response, max: number): Promise<CappedBody> {
  if (!response.body) return { text: "", bytes: 0, truncated: false };
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = max - bytes;
    const part = value.length > room ? value.subarray(0, room) : value;
    text += decoder.decode(part, { stream: true });
    bytes += part.length;
    if (value.length > room) {
      truncated = true;
      await reader.cancel().catch(() => {});
      break;
    }
  }
  return { text: text + decoder.decode(), bytes, truncated };
}

/** Response headers as a plain object; credentials and `extra` names replaced by [redacted], secrets scrubbed. */
export function redactHeaders(headers: Headers, extra: readonly string[], secrets: ReadonlySet<string>): Record<string, string> {
  const redact = new Set(extra.map((name) => name.toLowerCase()));
  const out: Record<string, string> = {};
  for (const [name, value] of headers) {
    out[name] = isSensitiveHeader(name) || redact.has(name) ? REDACTED : scrub(value, secrets);
  }
  return out;
}

/** JSON when the server says so and the whole body arrived; otherwise the text. */
export function decodeBody(contentType: string | null, body: CappedBody): { body: unknown; format: "json" | "text" } {
  if (!body.truncated && /^application\/(?:[\w.+-]+\+)?json\b/i.test(contentType ?? "") && body.text.trim() !== "") {
    try {
      return { body: JSON.parse(body.text), format: "json" };
    } catch {
      // declared JSON but is not: report the text
    }
  }
  return { body: body.text, format: "text" };
}
