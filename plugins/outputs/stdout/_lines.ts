/** Events to lines: one per event, never a raw newline inside one. */

type Fields = Record<string, unknown>;

export function jsonLine(event: unknown): string {
  // JSON.stringify escapes every control character, so the line cannot break.
  return `${JSON.stringify(event) ?? "null"}\n`;
}

/**
 * `2026-11-25T12:00:00.000Z HIGH cpu.high source=cpu-monitor key=total {"usage":97.1}`: what a
 * person scanning a terminal wants first. Anything missing is left out rather than printed empty.
 */
export function textLine(event: unknown): string {
  const e = (typeof event === "object" && event !== null ? event : { data: event }) as Fields;
  const parts = [
    word(e.timestamp),
    word(e.severity)?.toUpperCase(),
    word(e.type) ?? "event",
    pair("source", e.source),
    pair("trigger", e.trigger_id !== e.source ? e.trigger_id : undefined),
    pair("key", e.dedupe_key),
    Array.isArray(e.tags) && e.tags.length > 0 ? `tags=${e.tags.map(String).map(clean).join(",")}` : undefined,
    hasData(e.data) ? JSON.stringify(e.data) : undefined,
  ];
  return `${parts.filter((part) => part !== undefined && part !== "").join(" ")}\n`;
}

function word(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? clean(value) : undefined;
}

function pair(name: string, value: unknown): string | undefined {
  const text = word(value);
  return text === undefined ? undefined : `${name}=${text}`;
}

/** Control characters and spaces would split the line or its words. */
function clean(text: string): string {
  return text.replace(/[\u0000-\u0020\u007f]+/g, "_");
}

function hasData(data: unknown): boolean {
  return data !== undefined && data !== null && !(typeof data === "object" && Object.keys(data).length === 0);
}
