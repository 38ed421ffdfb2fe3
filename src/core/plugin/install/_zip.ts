/**
 * A zip reader over a file on disk, driven by the central directory (the index real unzip tools trust). Sizes
 * in headers are only used to refuse early: the extractor counts inflated bytes as they arrive, and an entry
 * that inflates to more than it declared is refused here, whatever its header said.
 */
import fs from "node:fs/promises";
import zlib from "node:zlib";
import { type ArchiveEntry, archiveError } from "./_archive.ts";

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const UNIX_HOST = 3;
const S_IFMT = 0o170000;

/** Entries of the zip file at `file`; refuses encrypted, multi-disk and zip64 archives. */
export async function* readZip(file: string, maxEntries: number): AsyncGenerator<ArchiveEntry> {
  const handle = await fs.open(file, "r");
  try {
    const { size } = await handle.stat();
    const { count, offset, length } = await endOfCentralDirectory(file, handle, size);
    if (count > maxEntries) throw archiveError(file, `has ${count} entries; at most ${maxEntries} are accepted`);
    const directory = await readAt(handle, offset, length);
    const view = new DataView(directory.buffer, directory.byteOffset, directory.byteLength);
    let at = 0;
    for (let i = 0; i < count; i++) {
      if (at + 46 > directory.length || view.getUint32(at, true) !== CENTRAL_SIGNATURE) {
        throw archiveError(file, "corrupt central directory");
      }
      const madeBy = view.getUint16(at + 4, true);
      const flags = view.getUint16(at + 8, true);
      const method = view.getUint16(at + 10, true);
      const crc = view.getUint32(at + 16, true);
      const compressed = view.getUint32(at + 20, true);
      const declared = view.getUint32(at + 24, true);
      const nameLength = view.getUint16(at + 28, true);
      const extraLength = view.getUint16(at + 30, true);
      const commentLength = view.getUint16(at + 32, true);
      const external = view.getUint32(at + 38, true);
      const localOffset = view.getUint32(at + 42, true);
      const name = decodeName(file, directory.subarray(at + 46, at + 46 + nameLength));
      at += 46 + nameLength + extraLength + commentLength;

      if (compressed === 0xffffffff || declared === 0xffffffff || localOffset === 0xffffffff) {
        throw archiveError(file, "zip64 entries are not supported", name);
      }
      if ((flags & 0x1) !== 0) throw archiveError(file, "is encrypted", name);
      const unixMode = madeBy >> 8 === UNIX_HOST ? external >>> 16 : 0;
      const [kind, label] = classify(name, unixMode, external);
      const dataStart = kind === "file" || kind === "symlink" ? await localDataStart(file, handle, localOffset, name) : 0;
      if (dataStart + compressed > offset) throw archiveError(file, "entry data overlaps the central directory", name);
      if (kind === "file" && method !== 0 && method !== 8) {
        throw archiveError(file, `uses compression method ${method}; only stored and deflate are supported`, name);
      }

      const body = async function* (): AsyncGenerator<Uint8Array> {
        const raw = Bun.file(file).slice(dataStart, dataStart + compressed).stream();
        const stream = method === 8 ? raw.pipeThrough(new DecompressionStream("deflate-raw")) : raw;
        let seen = 0;
        let sum = 0;
        for await (const chunk of stream) {
          seen += chunk.length;
          if (seen > declared) throw archiveError(file, `inflates to more than the ${declared} bytes its header declares`, name);
          sum = zlib.crc32(chunk, sum);
          yield chunk;
        }
        if (seen !== declared) throw archiveError(file, `holds ${seen} bytes but its header declares ${declared}`, name);
        if (sum !== crc) throw archiveError(file, "fails its CRC-32 check", name);
      };
      yield { name, kind, label, mode: unixMode & 0o777, size: declared, body };
    }
  } finally {
    await handle.close();
  }
}

async function endOfCentralDirectory(file: string, handle: fs.FileHandle, size: number) {
  const tailLength = Math.min(size, EOCD_SIZE + MAX_COMMENT);
  const tail = await readAt(handle, size - tailLength, tailLength);
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  for (let at = tail.length - EOCD_SIZE; at >= 0; at--) {
    if (view.getUint32(at, true) !== EOCD_SIGNATURE) continue;
    if (at + EOCD_SIZE + view.getUint16(at + 20, true) !== tail.length) continue;
    const disk = view.getUint16(at + 4, true);
    const directoryDisk = view.getUint16(at + 6, true);
    const onDisk = view.getUint16(at + 8, true);
    const count = view.getUint16(at + 10, true);
    const length = view.getUint32(at + 12, true);
    const offset = view.getUint32(at + 16, true);
    if (disk !== 0 || directoryDisk !== 0 || onDisk !== count) throw archiveError(file, "multi-disk zip archives are not supported");
    if (count === 0xffff || length === 0xffffffff || offset === 0xffffffff) throw archiveError(file, "zip64 archives are not supported");
    if (offset + length > size - tailLength + at) throw archiveError(file, "corrupt end of central directory");
    return { count, offset, length };
  }
  throw archiveError(file, "is not a zip archive (no end of central directory record)");
}

async function localDataStart(file: string, handle: fs.FileHandle, offset: number, name: string): Promise<number> {
  const header = await readAt(handle, offset, 30);
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  if (header.length < 30 || view.getUint32(0, true) !== LOCAL_SIGNATURE) throw archiveError(file, "corrupt local header", name);
  return offset + 30 + view.getUint16(26, true) + view.getUint16(28, true);
}

function classify(name: string, unixMode: number, external: number): [ArchiveEntry["kind"], string] {
  switch (unixMode & S_IFMT) {
    case 0o120000:
      return ["symlink", "symbolic link"];
    case 0o040000:
      return ["directory", "directory"];
    case 0o100000:
      return name.endsWith("/") ? ["directory", "directory"] : ["file", "regular file"];
    case 0:
      // No Unix mode (e.g. made on Windows): the trailing slash or the MS-DOS directory bit decides.
      return name.endsWith("/") || (external & 0x10) !== 0 ? ["directory", "directory"] : ["file", "regular file"];
    case 0o020000:
      return ["other", "character device"];
    case 0o060000:
      return ["other", "block device"];
    case 0o010000:
      return ["other", "FIFO"];
    default:
      return ["other", `special file (mode ${(unixMode & S_IFMT).toString(8)})`];
  }
}

function decodeName(file: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    throw archiveError(file, "has an entry whose name is not UTF-8", undefined, error);
  }
}

async function readAt(handle: fs.FileHandle, position: number, length: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  return buffer.subarray(0, bytesRead);
}
