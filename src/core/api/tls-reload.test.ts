import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ApiError } from "./errors.ts";
import { json, makeCertificates, makeClient, makeConfig, NO_INSTRUCTION, startServer, tempDirs, type TestServer } from "./_testkit.ts";

const dirs = tempDirs();
const certDirs = tempDirs();
let first: ReturnType<typeof makeCertificates>;
let second: ReturnType<typeof makeCertificates>;
let server: TestServer;

beforeAll(() => {
  first = makeCertificates(certDirs.make());
  second = makeCertificates(certDirs.make());
  // The server's certificate is from the first CA; it only accepts clients signed by the second.
  server = startServer(() => json(NO_INSTRUCTION), {
    cert: readFileSync(first.serverCert, "utf8"),
    key: readFileSync(first.serverKey, "utf8"),
    ca: readFileSync(second.ca, "utf8"),
    requestCert: true,
    rejectUnauthorized: true,
  });
});
afterAll(() => {
  server.stop();
  certDirs.cleanup();
});
afterEach(() => dirs.cleanup());

/** Copies of a client certificate and key the test may replace, and a config that uses them. */
function setup(from: ReturnType<typeof makeCertificates>) {
  const dir = dirs.make();
  const cert = join(dir, "client.pem");
  const key = join(dir, "client.key");
  copyFileSync(from.clientCert, cert);
  writeFileSync(key, readFileSync(from.clientKey), { mode: 0o600 });
  const config = makeConfig(dir, server.url, [
    "security.tls.enabled=true",
    `security.tls.ca_file=${first.ca}`,
    `security.tls.cert_file=${cert}`,
    `security.tls.key_file=${key}`,
    "api.retry_attempts=0",
  ]);
  return { dir, cert, key, ...makeClient(config) };
}

/** Replaces a file the way a rotation does: written beside it, then renamed over it. */
function replace(file: string, source: string, mode = 0o644): void {
  writeFileSync(`${file}.new`, readFileSync(source), { mode });
  renameSync(`${file}.new`, file);
}

const reloads = (lines: { msg: string }[]) => lines.filter((line) => line.msg === "TLS files changed; reloaded").length;

describe("TLS files reloaded when they change", () => {
  test("a client certificate rotated to another CA is used by the next call", async () => {
    const { cert, key, client, logger } = setup(first);
    const before = server.hits.length;
    const refused = await client.poll().then(() => expect.unreachable("expected a rejection"), (error: unknown) => error as ApiError);
    expect(refused).toMatchObject({ kind: "network" });
    expect(server.hits.length).toBe(before);

    replace(key, second.clientKey, 0o600);
    replace(cert, second.clientCert);
    expect(await client.poll()).toEqual(NO_INSTRUCTION);
    expect(server.hits.length).toBe(before + 1);
    expect(reloads(logger.lines)).toBe(1);

    // Unchanged files: no second reload.
    await client.poll();
    expect(reloads(logger.lines)).toBe(1);
    client.close();
  });

  test("a garbled certificate keeps the previous session, logs once, and is retried at each call", async () => {
    const { cert, client, logger } = setup(second);
    await client.poll();
    const before = server.hits.length;

    writeFileSync(cert, "-----BEGIN CERTIFICATE-----\nhalf-writ");
    expect(await client.poll()).toEqual(NO_INSTRUCTION);
    expect(await client.poll()).toEqual(NO_INSTRUCTION);
    expect(server.hits.length).toBe(before + 2);
    const warnings = logger.lines.filter((line) => line.msg === "cannot reload the TLS files; keeping the previous ones");
    expect(warnings).toHaveLength(1);
    expect(reloads(logger.lines)).toBe(0);

    replace(cert, second.clientCert);
    expect(await client.poll()).toEqual(NO_INSTRUCTION);
    expect(reloads(logger.lines)).toBe(1);
    client.close();
  });

  test("a key readable by others is refused on reload; the previous session stays", async () => {
    const { key, client, logger } = setup(second);
    await client.poll();
    replace(key, second.clientKey, 0o644);
    expect(await client.poll()).toEqual(NO_INSTRUCTION);
    const warning = logger.lines.find((line) => line.msg === "cannot reload the TLS files; keeping the previous ones");
    expect(String((warning?.fields as { error?: Error })?.error?.message)).toContain("readable by others");
    expect(reloads(logger.lines)).toBe(0);
    client.close();
  });
});
