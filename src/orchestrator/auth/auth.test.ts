import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { StavilyError } from "../../core/errors.ts";
import { ADMIN_TOKEN, createTestbed, heartbeatBody, TOKENS, type Testbed } from "../_testkit.ts";
import { hashToken, readTokensFile, sameHash, sameSecret } from "./tokens.ts";

let bed: Testbed;
afterEach(() => bed.close());

describe("agent auth", () => {
  test("401 without a token, with a malformed header and with an unknown token", async () => {
    bed = createTestbed();
    for (const header of [undefined, "Basic abc", "Bearer not-a-known-token"]) {
      const response = await bed.app.request("/agents/v1/agent-1/heartbeat", {
        method: "POST",
        headers: header ? { authorization: header } : {},
        body: JSON.stringify(heartbeatBody()),
      });
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: string }).error).toBe("unauthorized");
    }
  });

  test("403 when the token belongs to another agent", async () => {
    bed = createTestbed();
    const answer = await bed.send(TOKENS["agent-2"], "POST", "/agents/v1/agent-1/heartbeat", heartbeatBody());
    expect(answer.status).toBe(403);
    expect(answer.body.error).toBe("forbidden");
  });

  test("the agent's own token works, and the agent is registered on first contact", async () => {
    bed = createTestbed();
    expect((await bed.agent("agent-1", "GET", "/instructions")).status).toBe(200);
    const agents = await bed.admin("GET", "/agents");
    expect(agents.body.agents.map((agent: { id: string }) => agent.id)).toContain("agent-1");
  });

  test("--insecure-dev accepts any non-empty token for any agent id, but not a missing one", async () => {
    bed = createTestbed({ insecureDev: true, tokens: {} });
    expect((await bed.send("anything", "GET", "/agents/v1/brand-new/instructions")).status).toBe(200);
    expect((await bed.send(undefined, "GET", "/agents/v1/brand-new/instructions")).status).toBe(401);
    const agents = await bed.admin("GET", "/agents");
    expect(agents.body.agents[0].id).toBe("brand-new");
  });

  test("tokens are stored as SHA-256 hashes only", () => {
    bed = createTestbed();
    const rows = bed.service.db.query<{ token_hash: string }, []>("SELECT token_hash FROM agent_tokens").all();
    expect(rows.map((row) => row.token_hash).sort()).toEqual(Object.values(TOKENS).map(hashToken).sort());
  });
});

describe("admin auth", () => {
  test("401 without or with a wrong admin token; an agent token is not an admin token", async () => {
    bed = createTestbed();
    expect((await bed.send(undefined, "GET", "/api/v1/agents")).status).toBe(401);
    expect((await bed.send("wrong", "GET", "/api/v1/agents")).status).toBe(401);
    expect((await bed.send(TOKENS["agent-1"], "GET", "/api/v1/agents")).status).toBe(401);
    expect((await bed.send(ADMIN_TOKEN, "GET", "/api/v1/agents")).status).toBe(200);
  });
});

describe("tokens", () => {
  test("constant-time comparisons agree with equality", () => {
    expect(sameHash(hashToken("a"), hashToken("a"))).toBe(true);
    expect(sameHash(hashToken("a"), hashToken("b"))).toBe(false);
    expect(sameHash(hashToken("a"), "abcd")).toBe(false);
    expect(sameSecret("x", "x")).toBe(true);
    expect(sameSecret("x", "xy")).toBe(false);
  });

  test("the tokens file is a YAML map; a bad one is a usage error naming the agent", async () => {
    bed = createTestbed();
    await Bun.write(join(bed.dir, "good.yaml"), "agent-1: token-of-agent-one\n");
    await Bun.write(join(bed.dir, "bad.yaml"), "agent-1: short\n");
    expect(readTokensFile(join(bed.dir, "good.yaml"))).toEqual({ "agent-1": "token-of-agent-one" });
    const error = thrown(() => readTokensFile(join(bed.dir, "bad.yaml")));
    expect(error).toBeInstanceOf(StavilyError);
    expect((error as StavilyError).message).toContain("map of agent id to token");
    expect((error as StavilyError).details[0]).toContain("agent-1");
    expect((error as StavilyError).exitCode).toBe(2);
    expect(() => readTokensFile(join(bed.dir, "missing.yaml"))).toThrow(/cannot read/);
    await Bun.write(join(bed.dir, "shared.yaml"), "a: same-token-123\nb: same-token-123\n");
    expect(() => readTokensFile(join(bed.dir, "shared.yaml"))).toThrow(/"a" and "b" the same token/);
  });
});

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}
