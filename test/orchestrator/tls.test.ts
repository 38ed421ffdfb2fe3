/** TLS and client-certificate verification, through a real process and real handshakes. */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCerts } from "./_certs.ts";
import { startOrchestrator } from "./_support.ts";

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("stavily orchestrator over TLS", () => {
  test("--client-ca admits clients with a certificate from that CA and refuses the others", async () => {
    dir = mkdtempSync(join(tmpdir(), "stavily-orch-tls-"));
    const certs = await makeCerts(dir);
    const running = await startOrchestrator(
      { db: ":memory:", listen: "127.0.0.1:0", adminToken: "admin-token-tls", tlsCert: certs.serverCert, tlsKey: certs.serverKey, clientCa: certs.ca },
      dir,
    );
    try {
      expect(running.url).toStartWith("https://127.0.0.1:");
      const ca = await Bun.file(certs.ca).text();
      const withCert = await fetch(`${running.url}/healthz`, {
        tls: { ca, cert: await Bun.file(certs.clientCert).text(), key: await Bun.file(certs.clientKey).text() },
      });
      expect(withCert.status).toBe(200);
      const withoutCert = await fetch(`${running.url}/healthz`, { tls: { ca } }).then(
        (response) => `status ${response.status}`,
        (error: unknown) => `refused: ${String(error)}`,
      );
      expect(withoutCert).toStartWith("refused");
    } finally {
      expect((await running.stop()).code).toBe(0);
    }
  }, 30_000);
});
