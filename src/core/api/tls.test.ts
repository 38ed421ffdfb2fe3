import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { StavilyError } from "../errors.ts";
import { ApiError } from "./errors.ts";
import { json, makeCertificates, makeClient, makeConfig, NO_INSTRUCTION, startServer, tempDirs, type TestServer } from "./_testkit.ts";

const dirs = tempDirs();
const certDirs = tempDirs();
let certs: ReturnType<typeof makeCertificates>;
let server: TestServer;

beforeAll(() => {
  certs = makeCertificates(certDirs.make());
  // Mutual TLS: the server refuses a client without a certificate signed by the test CA.
  server = startServer(() => json(NO_INSTRUCTION), {
    cert: readFileSync(certs.serverCert, "utf8"),
    key: readFileSync(certs.serverKey, "utf8"),
    ca: readFileSync(certs.ca, "utf8"),
    requestCert: true,
    rejectUnauthorized: true,
  });
});
afterAll(() => {
  server.stop();
  certDirs.cleanup();
});
afterEach(() => dirs.cleanup());

const tls = (...extra: string[]) => ["security.tls.enabled=true", `security.tls.ca_file=${certs.ca}`, ...extra];
const failure = (promise: Promise<unknown>) => promise.then(() => expect.unreachable("expected a rejection"), (error: unknown) => error as ApiError);

describe("mutual TLS", () => {
  test("with the client certificate: accepted", async () => {
    const before = server.hits.length;
    const config = makeConfig(dirs.make(), server.url, tls(`security.tls.cert_file=${certs.clientCert}`, `security.tls.key_file=${certs.clientKey}`));
    const { client } = makeClient(config);
    expect(await client.poll()).toEqual({ instruction: null, status: "no_instructions" });
    expect(server.hits.length).toBe(before + 1);
    client.close();
  });

  test("the server name to verify can differ from the URL's host", async () => {
    const config = makeConfig(dirs.make(), server.url, tls(`security.tls.cert_file=${certs.clientCert}`, `security.tls.key_file=${certs.clientKey}`, "security.tls.server_name=localhost"));
    const { client } = makeClient(config);
    await client.poll();
    const wrong = makeConfig(dirs.make(), server.url, tls(`security.tls.cert_file=${certs.clientCert}`, `security.tls.key_file=${certs.clientKey}`, "security.tls.server_name=other.example"));
    const error = await failure(makeClient(wrong).client.poll());
    expect(error).toMatchObject({ kind: "network", retryable: false });
  });

  test("without the client certificate: refused, no request reaches the server", async () => {
    const before = server.hits.length;
    const { client } = makeClient(makeConfig(dirs.make(), server.url, tls("api.retry_attempts=0")));
    const error = await failure(client.poll());
    expect(error).toBeInstanceOf(ApiError);
    expect(error.kind).toBe("network");
    expect(server.hits.length).toBe(before);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("TLS");
  });

  test("a server certificate from an unknown CA is refused and not retried", async () => {
    const before = server.hits.length;
    const { client } = makeClient(makeConfig(dirs.make(), server.url, ["api.retry_attempts=3"]));
    const error = await failure(client.poll());
    expect(error.kind).toBe("network");
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("TLS");
    expect(server.hits.length).toBe(before);
  });

  test("a certificate without its key, or an unreadable file, is refused at creation", () => {
    const dir = dirs.make();
    expect(() => makeClient(makeConfig(dir, server.url, tls(`security.tls.cert_file=${certs.clientCert}`)))).toThrow(StavilyError);
    expect(() => makeClient(makeConfig(dir, server.url, ["security.tls.enabled=true", `security.tls.ca_file=${dir}/missing.pem`]))).toThrow(
      /cannot read security\.tls\.ca_file/,
    );
  });
});

describe("security.tls.min_version", () => {
  // Bun.serve cannot be limited to TLS 1.2, openssl s_server can. It prints "ACCEPT host:port" once listening.
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  let url = "";
  beforeAll(async () => {
    proc = Bun.spawn(["openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", certs.serverCert, "-key", certs.serverKey, "-tls1_2", "-www"], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
    let out = "";
    let match: RegExpMatchArray | null = null;
    while (!(match = out.match(/ACCEPT 127\.0\.0\.1:(\d+)/))) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`openssl s_server did not start: ${out}`);
      out += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    url = `https://127.0.0.1:${match[1]}`;
  });
  afterAll(() => proc?.kill());

  test("1.2 talks to a TLS 1.2 server", async () => {
    const { client } = makeClient(makeConfig(dirs.make(), url, tls("api.retry_attempts=0")));
    // s_server answers with an HTML status page: the handshake worked, the answer is not ours.
    const error = await failure(client.poll());
    expect(error.kind).toBe("malformed");
  });

  test("1.3 refuses a TLS 1.2 server", async () => {
    const { client } = makeClient(makeConfig(dirs.make(), url, tls("security.tls.min_version=1.3", "api.retry_attempts=0")));
    const error = await failure(client.poll());
    expect(error).toMatchObject({ kind: "network", retryable: false });
  });
});
