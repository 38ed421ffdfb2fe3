/**
 * Archive bytes onto disk: downloads (https, capped, with a deadline, redirects checked hop by hop) and local
 * files, hashed with SHA-256 on the way so the hash is of exactly the bytes that get extracted.
 */
import fs from "node:fs/promises";
import { StavilyError } from "../../errors.ts";
import { redactUrl, remoteUrl } from "./_url.ts";

const MAX_REDIRECTS = 5;

export interface Fetched {
  /** Lowercase hex SHA-256 of the bytes written. */
  sha256: string;
  bytes: number;
}

export interface DownloadOptions {
  maxBytes: number;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Downloads `url` to `file`. Every hop of a redirect must itself be https (or loopback http). */
export async function download(url: string, file: string, options: DownloadOptions): Promise<Fetched> {
  const shown = redactUrl(url);
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([deadline, options.signal]) : deadline;
  try {
    let target = remoteUrl(url, "archive URL");
    for (let hop = 0; ; hop++) {
      // identity: the hash is of the archive as published, not of a transfer encoding fetch would undo.
      const response = await fetch(target, { redirect: "manual", signal, headers: { "accept-encoding": "identity" } });
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && location !== null) {
        await response.body?.cancel();
        if (hop >= MAX_REDIRECTS) throw new StavilyError("plugin", `download of ${shown}: more than ${MAX_REDIRECTS} redirects`);
        target = remoteUrl(new URL(location, target).toString(), `redirect of ${shown} to`);
        continue;
      }
      if (!response.ok || response.body === null) {
        await response.body?.cancel();
        throw new StavilyError("plugin", `download of ${shown}: HTTP ${response.status}`);
      }
      const declared = Number(response.headers.get("content-length") ?? Number.NaN);
      if (declared > options.maxBytes) {
        await response.body.cancel();
        throw tooLarge(shown, options.maxBytes);
      }
      return await save(response.body, file, options.maxBytes, shown);
    }
  } catch (error) {
    if (deadline.aborted) {
      throw new StavilyError("plugin", `download of ${shown} did not finish within ${options.timeoutMs} ms`, { cause: error });
    }
    if (error instanceof StavilyError) throw error;
    throw new StavilyError("plugin", `download of ${shown} failed: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Copies a local archive to `dest`, hashing it on the way, refusing one over `maxBytes`. The copy is what gets
 * extracted, so the file cannot change between the check of its hash and its extraction.
 */
export async function copyArchive(file: string, dest: string, maxBytes: number): Promise<Fetched> {
  let size: number;
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) throw new Error("not a regular file");
    size = stat.size;
  } catch (error) {
    throw new StavilyError("plugin", `cannot read plugin archive ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (size > maxBytes) throw tooLarge(file, maxBytes);
  return save(Bun.file(file).stream(), dest, maxBytes, file);
}

/** Refuses unless `actual` is the expected hash; `expected` may be upper case. */
export function verifySha256(what: string, expected: string, actual: string): void {
  if (expected.toLowerCase() !== actual) {
    throw new StavilyError("plugin", `plugin archive ${what}: SHA-256 mismatch (expected ${expected.toLowerCase()}, got ${actual}); refused`);
  }
}

async function save(body: ReadableStream<Uint8Array>, file: string, maxBytes: number, shown: string): Promise<Fetched> {
  const hasher = new Bun.CryptoHasher("sha256");
  const handle = await fs.open(file, "wx", 0o600);
  let bytes = 0;
  try {
    for await (const chunk of body) {
      bytes += chunk.length;
      // Content-Length was only a hint: the cap holds for what actually arrives.
      if (bytes > maxBytes) throw tooLarge(shown, maxBytes);
      hasher.update(chunk);
      await handle.write(chunk);
    }
  } finally {
    await handle.close();
  }
  return { sha256: hasher.digest("hex"), bytes };
}

function tooLarge(what: string, maxBytes: number): StavilyError {
  return new StavilyError("plugin", `plugin archive ${what} is larger than ${maxBytes} bytes; refused`);
}
