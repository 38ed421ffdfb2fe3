/**
 * The two archive writers a release needs, in-process so they behave the same on every machine and
 * need no `tar` or `zip` (Bun.Archive writes tar only, without modes or times): a ustar `.tar.gz` and
 * a deflate `.zip`. Output depends only on the entries given: the caller sorts them and fixes `mtime`.
 * src/core/plugin/install/ holds the readers; test/release.test.ts reads these archives back with them.
 */
import { deflateRawSync, gzipSync } from "node:zlib";

export interface Entry {
  /** Path inside the archive, `/`-separated; a directory's ends with `/`. */
  name: string;
  /** Undefined for a directory. */
  data?: Uint8Array;
  /** Permission bits, e.g. 0o755. */
  mode: number;
}

/** Seconds since 1970: every entry's modification time. */
export type Mtime = number;

const BLOCK = 512;
const encoder = new TextEncoder();

// ---- tar.gz ------------------------------------------------------------------------------------

export function tarGz(entries: readonly Entry[], mtime: Mtime): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const entry of entries) {
    const size = entry.data?.length ?? 0;
    parts.push(tarHeader(entry, size, mtime));
    if (entry.data) {
      parts.push(entry.data);
      const pad = (BLOCK - (size % BLOCK)) % BLOCK;
      if (pad) parts.push(new Uint8Array(pad));
    }
  }
  parts.push(new Uint8Array(BLOCK * 2)); // end of archive
  return gzipSync(concat(parts), { level: 9 });
}

function tarHeader(entry: Entry, size: number, mtime: Mtime): Uint8Array {
  const header = new Uint8Array(BLOCK);
  const { prefix, name } = splitUstarName(entry.name);
  const put = (offset: number, length: number, text: string) => {
    const bytes = encoder.encode(text);
    if (bytes.length > length) throw new Error(`release: tar field "${text}" does not fit ${length} bytes`);
    header.set(bytes, offset);
  };
  const octal = (offset: number, length: number, value: number) => put(offset, length, `${value.toString(8).padStart(length - 1, "0")}\0`);
  put(0, 100, name);
  octal(100, 8, entry.mode);
  octal(108, 8, 0); // uid
  octal(116, 8, 0); // gid
  octal(124, 12, size);
  octal(136, 12, mtime);
  put(148, 8, " ".repeat(8)); // checksum, counted as spaces
  put(156, 1, entry.data ? "0" : "5");
  put(257, 8, "ustar\u000000");
  put(265, 32, "root");
  put(297, 32, "root");
  put(345, 155, prefix);
  const sum = header.reduce((total, byte) => total + byte, 0);
  put(148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return header;
}

/** ustar keeps names over 100 bytes as prefix + "/" + name. */
function splitUstarName(path: string): { prefix: string; name: string } {
  if (encoder.encode(path).length <= 100) return { prefix: "", name: path };
  const cut = path.lastIndexOf("/", path.length - 2);
  if (cut <= 0 || cut > 155 || path.length - cut - 1 > 100) throw new Error(`release: path too long for ustar: ${path}`);
  return { prefix: path.slice(0, cut), name: path.slice(cut + 1) };
}

// ---- zip ---------------------------------------------------------------------------------------

const VERSION = 20; // 2.0: deflate, directories
const UNIX = 3;
const UTF8_NAMES = 0x0800;

export function zip(entries: readonly Entry[], mtime: Mtime): Uint8Array {
  const { time, date } = dosDateTime(mtime);
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = encoder.encode(entry.name);
    const raw = entry.data ?? new Uint8Array(0);
    const deflated = entry.data ? deflateRawSync(raw, { level: 9 }) : raw;
    const method = entry.data ? 8 : 0;
    const crc = entry.data ? Bun.hash.crc32(raw) >>> 0 : 0;
    if (raw.length >= 0xffffffff || offset >= 0xffffffff) throw new Error(`release: ${entry.name} needs zip64, which this writer does not do`);

    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, VERSION, true);
    local.setUint16(6, UTF8_NAMES, true);
    local.setUint16(8, method, true);
    local.setUint16(10, time, true);
    local.setUint16(12, date, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, deflated.length, true);
    local.setUint32(22, raw.length, true);
    local.setUint16(26, name.length, true);
    locals.push(new Uint8Array(local.buffer), name, deflated);

    const central = new DataView(new ArrayBuffer(46));
    central.setUint32(0, 0x02014b50, true);
    central.setUint16(4, (UNIX << 8) | VERSION, true);
    central.setUint16(6, VERSION, true);
    central.setUint16(8, UTF8_NAMES, true);
    central.setUint16(10, method, true);
    central.setUint16(12, time, true);
    central.setUint16(14, date, true);
    central.setUint32(16, crc, true);
    central.setUint32(20, deflated.length, true);
    central.setUint32(24, raw.length, true);
    central.setUint16(28, name.length, true);
    const unixMode = (entry.data ? 0o100000 : 0o040000) | entry.mode;
    central.setUint32(38, ((unixMode << 16) | (entry.data ? 0 : 0x10)) >>> 0, true); // + MS-DOS directory bit
    central.setUint32(42, offset, true);
    centrals.push(new Uint8Array(central.buffer), name);
    offset += 30 + name.length + deflated.length;
  }
  const directory = concat(centrals);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, entries.length, true);
  end.setUint16(10, entries.length, true);
  end.setUint32(12, directory.length, true);
  end.setUint32(16, offset, true);
  return concat([...locals, directory, new Uint8Array(end.buffer)]);
}

/** MS-DOS time has 2-second steps and starts in 1980; it is local time by definition, UTC here. */
function dosDateTime(seconds: Mtime): { time: number; date: number } {
  const d = new Date(Math.max(seconds, 315_532_800) * 1000);
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
    date: ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
