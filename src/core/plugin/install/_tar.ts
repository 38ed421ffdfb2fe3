/**
 * A streaming tar reader (ustar, pax and GNU long names), small enough to audit. It parses headers only; what
 * may be written where is the extractor's decision.
 */
import { type ArchiveEntry, archiveError, type EntryKind } from "./_archive.ts";

const BLOCK = 512;
/** pax and GNU long-name records are held in memory: keep them small. */
const MAX_META_BYTES = 1024 * 1024;
/** Metadata records in a row before a real entry; bounds the work an archive of only metadata can cause. */
const MAX_META_IN_A_ROW = 8;

const KINDS: Record<string, [EntryKind, string]> = {
  "0": ["file", "regular file"],
  "\0": ["file", "regular file"],
  "7": ["file", "regular file"],
  "1": ["hardlink", "hard link"],
  "2": ["symlink", "symbolic link"],
  "3": ["other", "character device"],
  "4": ["other", "block device"],
  "5": ["directory", "directory"],
  "6": ["other", "FIFO"],
};

/** Entries of the tar stream `source`; `archive` names it in errors. Stops reading when the caller stops. */
export async function* readTar(archive: string, source: AsyncIterable<Uint8Array>): AsyncGenerator<ArchiveEntry> {
  const reader = new ChunkReader(source);
  try {
    let pax: Record<string, string> = {};
    let longName: string | undefined;
    let longLink: string | undefined;
    let metaInARow = 0;
    for (;;) {
      const header = await reader.exactly(BLOCK);
      if (header === null && reader.consumed % BLOCK !== 0) throw archiveError(archive, "the archive ends inside a tar header");
      // Some writers omit the two zero blocks; the end of input at a header boundary is the end.
      if (header === null || header.every((byte) => byte === 0)) return;
      if (!checksumOk(header)) throw archiveError(archive, `corrupt tar header at byte ${reader.consumed - BLOCK}`);
      const type = String.fromCharCode(header[156] ?? 0);
      let size = parseNumber(header.subarray(124, 136));
      if (size === null) throw archiveError(archive, `unreadable size in tar header at byte ${reader.consumed - BLOCK}`);

      if (type === "x" || type === "g" || type === "L" || type === "K") {
        if (++metaInARow > MAX_META_IN_A_ROW) throw archiveError(archive, "too many tar metadata records in a row");
        if (size > MAX_META_BYTES) throw archiveError(archive, `tar metadata record of ${size} bytes is too large`);
        const data = await reader.exactly(size);
        if (data === null || !(await reader.skip(padding(size)))) throw archiveError(archive, "truncated tar metadata record");
        if (type === "x") pax = { ...pax, ...parsePax(archive, data) };
        else if (type === "L") longName = cString(data);
        else if (type === "K") longLink = cString(data);
        // "g" (global pax) only carries defaults such as mtime and charset; nothing we use.
        continue;
      }
      metaInARow = 0;

      const paxSize = pax.size === undefined ? undefined : Number(pax.size);
      if (paxSize !== undefined) {
        if (!Number.isSafeInteger(paxSize) || paxSize < 0) throw archiveError(archive, "unreadable pax size");
        size = paxSize;
      }
      const name = pax.path ?? longName ?? ustarName(header);
      const linkTarget = pax.linkpath ?? longLink ?? cString(header.subarray(157, 257));
      pax = {};
      longName = longLink = undefined;
      const [kind, label] = KINDS[type] ?? ["other", `tar entry of type ${JSON.stringify(type)}`];
      const mode = parseNumber(header.subarray(100, 108)) ?? 0o644;

      let unread = size;
      const body = async function* (): AsyncGenerator<Uint8Array> {
        while (unread > 0) {
          const chunk = await reader.chunk(Math.min(unread, 64 * 1024));
          if (chunk === null) throw archiveError(archive, "the archive ends inside this entry", name);
          unread -= chunk.length;
          yield chunk;
        }
      };
      yield { name, kind, label, mode, size, linkTarget: kind === "file" ? undefined : linkTarget, body };
      if (!(await reader.skip(unread + padding(size)))) throw archiveError(archive, "the archive ends inside this entry", name);
    }
  } finally {
    await reader.close();
  }
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function checksumOk(header: Uint8Array): boolean {
  const stored = parseNumber(header.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (header[i] ?? 0);
  return stored === sum;
}

/** Octal, or GNU base-256 when the high bit of the first byte is set. */
function parseNumber(field: Uint8Array): number | null {
  if (((field[0] ?? 0) & 0x80) !== 0) {
    let value = (field[0] ?? 0) & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + (field[i] ?? 0);
    return Number.isSafeInteger(value) ? value : null;
  }
  const text = cString(field).trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) return null;
  const value = Number.parseInt(text, 8);
  return Number.isSafeInteger(value) ? value : null;
}

function ustarName(header: Uint8Array): string {
  const name = cString(header.subarray(0, 100));
  const ustar = cString(header.subarray(257, 263)) === "ustar";
  const prefix = ustar ? cString(header.subarray(345, 500)) : "";
  return prefix === "" ? name : `${prefix}/${name}`;
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end === -1 ? bytes : bytes.subarray(0, end));
}

/** pax records: "<length> <key>=<value>\n", the length counting the whole record. */
function parsePax(archive: string, data: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const length = space === -1 ? Number.NaN : Number(new TextDecoder().decode(data.subarray(at, space)));
    if (!Number.isSafeInteger(length) || length <= 0 || at + length > data.length) {
      throw archiveError(archive, "malformed pax record");
    }
    const record = new TextDecoder().decode(data.subarray(space + 1, at + length - 1));
    const equals = record.indexOf("=");
    if (equals > 0) out[record.slice(0, equals)] = record.slice(equals + 1);
    at += length;
  }
  return out;
}

/** Exact-length reads over a stream of chunks. */
class ChunkReader {
  readonly #iterator: AsyncIterator<Uint8Array>;
  #buffer: Uint8Array = new Uint8Array(0);
  #offset = 0;
  #ended = false;
  /** Bytes handed out so far (offsets in error messages). */
  consumed = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#iterator = source[Symbol.asyncIterator]();
  }

  /** Between 1 and `max` bytes, or null at the end of the input. */
  async chunk(max: number): Promise<Uint8Array | null> {
    while (this.#offset >= this.#buffer.length) {
      if (this.#ended) return null;
      const next = await this.#iterator.next();
      if (next.done) {
        this.#ended = true;
        return null;
      }
      this.#buffer = next.value;
      this.#offset = 0;
    }
    const end = Math.min(this.#buffer.length, this.#offset + max);
    const out = this.#buffer.subarray(this.#offset, end);
    this.#offset = end;
    this.consumed += out.length;
    return out;
  }

  /** Exactly `length` bytes, or null when the input ends first. */
  async exactly(length: number): Promise<Uint8Array | null> {
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const chunk = await this.chunk(length - filled);
      if (chunk === null) return null;
      out.set(chunk, filled);
      filled += chunk.length;
    }
    return out;
  }

  /** Skips `length` bytes; false when the input ends first. */
  async skip(length: number): Promise<boolean> {
    let left = length;
    while (left > 0) {
      const chunk = await this.chunk(left);
      if (chunk === null) return false;
      left -= chunk.length;
    }
    return true;
  }

  /** Stops the source (a decompressor stops inflating). */
  async close(): Promise<void> {
    await this.#iterator.return?.();
  }
}
