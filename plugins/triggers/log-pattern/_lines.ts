/**
 * Splits a chunk of a file into lines without consuming a partial last line. A line longer than
 * maxLineBytes is cut there (truncated: true); when its end is not in sight yet, the rest of it is
 * skipped up to the next newline (`skipping`, kept in the cursor so it survives a restart).
 */

export interface Line {
  /** Without its newline (and without a trailing \r). */
  text: string;
  /** Byte offset of the line's start in its file. */
  offset: number;
  truncated: boolean;
}

export interface Scan {
  /** Bytes of the chunk consumed: complete lines only (and skipped bytes). */
  consumed: number;
  skipping: boolean;
  /** onLine refused a line: it was not consumed. */
  stopped: boolean;
}

/**
 * `onLine` returns false to stop before that line (it stays unconsumed). `final` treats a partial
 * last line as complete: for a rotated file nobody will finish it.
 */
export function scanLines(chunk: Buffer, base: number, skipping: boolean, maxLineBytes: number, final: boolean, onLine: (line: Line) => boolean): Scan {
  const NL = 10;
  let pos = 0;
  while (pos < chunk.length) {
    const nl = chunk.indexOf(NL, pos);
    if (skipping) {
      if (nl < 0) return { consumed: chunk.length, skipping: true, stopped: false };
      pos = nl + 1;
      skipping = false;
      continue;
    }
    const end = nl < 0 ? chunk.length : nl;
    const long = end - pos > maxLineBytes;
    if (nl < 0 && !long && !final) break; // a partial line: wait for its newline
    let text = chunk.toString("utf8", pos, long ? pos + maxLineBytes : end);
    if (!long && text.endsWith("\r")) text = text.slice(0, -1);
    if (!onLine({ text, offset: base + pos, truncated: long })) return { consumed: pos, skipping: false, stopped: true };
    if (nl < 0) return { consumed: chunk.length, skipping: long && !final, stopped: false };
    pos = nl + 1;
  }
  return { consumed: pos, skipping, stopped: false };
}
