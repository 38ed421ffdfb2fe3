import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StavilyError } from "../errors.ts";
import { ApiError } from "./errors.ts";
import { json, makeClient, makeConfig, NO_INSTRUCTION, startServer, tempDirs, type TestServer } from "./_testkit.ts";

const dirs = tempDirs();
const servers: TestServer[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.stop();
  dirs.cleanup();
});

/** A server that accepts only `valid.token` (changeable by the test). */
function guarded(valid: { token: string }, onRefusal?: () => void) {
  const server = startServer((request) => {
    if (request.headers.get("authorization") === `Bearer ${valid.token}`) return json(NO_INSTRUCTION);
    onRefusal?.();
    return new Response("who are you", { status: 401 });
  });
  servers.push(server);
  return server;
}

function withTokenFile(content: string, set: string[] = []) {
  const dir = dirs.make();
  const file = join(dir, "token");
  // Private, as the agent requires of a file holding a secret.
  writeFileSync(file, content, { mode: 0o600 });
  return { file, set: [`security.auth.token_file=${file}`, ...set], dir };
}

describe("the token", () => {
  test("a token file readable by group or others is refused, naming the file, its mode and the fix", () => {
    const { dir, set, file } = withTokenFile("file-token-AAAAAAAA");
    chmodSync(file, 0o644);
    expect(() => makeClient(makeConfig(dir, "http://127.0.0.1:1", set))).toThrow(`security.auth.token_file ${file} is readable by others (mode 0644); run: chmod 600 ${file}`);
  });

  test("comes from the token file, trimmed, without a leading Bearer", async () => {
    const valid = { token: "file-token-AAAAAAAA" };
    const server = guarded(valid);
    const { dir, set } = withTokenFile("  Bearer file-token-AAAAAAAA \n");
    const { client } = makeClient(makeConfig(dir, server.url, set));
    await client.poll();
    expect(server.hits[0]?.headers.get("authorization")).toBe("Bearer file-token-AAAAAAAA");
  });

  test("falls back to STAVILY_AGENT_TOKEN from the options' env", async () => {
    const valid = { token: "env-token-BBBBBBBB" };
    const server = guarded(valid);
    const config = makeConfig(dirs.make(), server.url, ["security.auth.method=api_key"]);
    const { client } = makeClient(config, { env: { STAVILY_AGENT_TOKEN: valid.token } });
    await client.poll();
    expect(server.hits).toHaveLength(1);
  });

  test("missing altogether is refused at creation, naming the three ways to give one", () => {
    const config = makeConfig(dirs.make(), "http://127.0.0.1:1", ["security.auth.method=api_key"]);
    let error: unknown;
    try {
      makeClient(config);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(StavilyError);
    expect((error as StavilyError).exitCode).toBe(2);
    const text = [(error as Error).message, ...(error as StavilyError).details].join("\n");
    for (const way of ["security.auth.token_file", "security.auth.api_key", "STAVILY_AGENT_TOKEN"]) expect(text).toContain(way);
  });

  test("an expired JWT is warned about", () => {
    const payload = Buffer.from(JSON.stringify({ sub: "agent-1", exp: 1_000_000 })).toString("base64url");
    const { dir, set } = withTokenFile(`eyJhbGciOiJIUzI1NiJ9.${payload}.c2lnbmF0dXJl`, ["security.auth.method=jwt"]);
    const { logger } = makeClient(makeConfig(dir, "http://127.0.0.1:1", set));
    expect(logger.lines.some((line) => line.level === "warn" && line.msg.includes("expired"))).toBe(true);
  });
});

describe("a refused token", () => {
  test("marks auth failing, holds calls back, and a rotated token file heals it without a restart", async () => {
    const valid = { token: "new-token-CCCCCCCC" };
    const server = guarded(valid);
    // retry_delay is the first auth backoff: long enough that the second call is surely held back.
    const { dir, file, set } = withTokenFile("old-token-DDDDDDDD", ["api.retry_delay=5s"]);
    const refusals: Array<[string, number]> = [];
    const { client } = makeClient(makeConfig(dir, server.url, set), { onAuthFailure: (endpoint, status) => void refusals.push([endpoint, status]) });

    const first = (await client.poll().catch((e: unknown) => e)) as ApiError;
    expect(first.kind).toBe("auth");
    expect(first.status).toBe(401);
    expect(client.state).toMatchObject({ authFailing: true, ready: false });
    expect(server.hits).toHaveLength(1);

    const held = (await client.poll().catch((e: unknown) => e)) as ApiError;
    expect(held.kind).toBe("auth");
    expect(held.message).toContain("not sent");
    expect(server.hits).toHaveLength(1);
    // Reported once per streak (for the audit log), not once per call held back.
    expect(refusals).toEqual([["/agents/v1/{id}/instructions", 401]]);

    writeFileSync(file, "new-token-CCCCCCCC\n");
    await client.poll();
    expect(server.hits).toHaveLength(2);
    expect(client.state).toMatchObject({ authFailing: false, ready: true });
  });

  test("is retried once at once when the token file changed meanwhile", async () => {
    const valid = { token: "rotated-EEEEEEEE" };
    const { dir, file, set } = withTokenFile("stale-FFFFFFFF");
    // The token is rotated while the refusal is on its way, as an operator would.
    const server = guarded(valid, () => writeFileSync(file, valid.token));
    const { client } = makeClient(makeConfig(dir, server.url, set));
    await client.poll();
    expect(server.hits.map((hit) => hit.headers.get("authorization"))).toEqual(["Bearer stale-FFFFFFFF", "Bearer rotated-EEEEEEEE"]);
    expect(client.state.authFailing).toBe(false);
  });
});
