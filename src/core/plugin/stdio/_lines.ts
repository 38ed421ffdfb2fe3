/** Byte streams to bounded lines, and a rate gate for what gets logged. Pure: no I/O, no timers. */

export interface Line {
  text: string;
  /** The line was longer than the cap; `text` is its start. */
  truncated: boolean;
  /** The line's full length in bytes (without the newline). */
  bytes: number;
}

const NEWLINE = 0x0a;

/**
 * Splits chunks into lines, keeping at most `maxBytes` of each: a child printing megabytes without a
 * newline costs the host `maxBytes`, not the whole stream.
 */
export function createLineSplitter(maxBytes: number, emit: (line: Line) => void) {
  const decoder = new TextDecoder();
  let parts: Uint8Array[] = [];
  let kept = 0;
  let total = 0;

  const keep = (bytes: Uint8Array) => {
    total += bytes.length;
    const room = maxBytes - kept;
    if (room <= 0) return;
    const piece = bytes.length > room ? bytes.subarray(0, room) : bytes;
    // Copied: the stream may reuse its buffer.
    parts.push(piece.slice());
    kept += piece.length;
  };
  const finish = () => {
    const joined = new Uint8Array(kept);
    let at = 0;
    for (const part of parts) {
      joined.set(part, at);
      at += part.length;
    }
    let text = decoder.decode(joined);
    if (text.endsWith("\r")) text = text.slice(0, -1);
    const line = { text, truncated: total > kept, bytes: total };
    parts = [];
    kept = 0;
    total = 0;
    emit(line);
  };

  return {
    push(chunk: Uint8Array) {
      let start = 0;
      for (let index = chunk.indexOf(NEWLINE); index !== -1; index = chunk.indexOf(NEWLINE, start)) {
        keep(chunk.subarray(start, index));
        finish();
        start = index + 1;
      }
      if (start < chunk.length) keep(chunk.subarray(start));
    },
    /** End of stream: a last line without a newline is still a line. */
    end() {
      if (total > 0) finish();
    },
  };
}

/** At most `perSecond` lines in each one-second window; the rest are counted, for one summary line. */
export function createRateGate(perSecond: number, now: () => number = Date.now) {
  let windowStart = Number.NEGATIVE_INFINITY;
  let passed = 0;
  let dropped = 0;
  return {
    /** Whether this line may be written; `report` gets the count dropped in the window before. */
    admit(report: (dropped: number) => void): boolean {
      const time = now();
      if (time - windowStart >= 1000) {
        if (dropped > 0) report(dropped);
        windowStart = time;
        passed = 0;
        dropped = 0;
      }
      if (passed < perSecond) {
        passed++;
        return true;
      }
      dropped++;
      return false;
    },
    /** Lines dropped in the current window and not yet reported (at exit). */
    flush(report: (dropped: number) => void) {
      if (dropped > 0) report(dropped);
      dropped = 0;
    },
  };
}
