/** Bearer-token checks for both APIs; failures are ApiErrors so they share the API's error shape. */
import type { MiddlewareHandler } from "hono";
import { ApiError } from "../http/_errors.ts";
import type { AgentStore } from "../store/agents.ts";
import { hashToken, sameHash, sameSecret } from "./tokens.ts";

function bearer(header: string | undefined): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!match) throw new ApiError(401, "unauthorized", "an Authorization: Bearer <token> header is required");
  return match[1]!;
}

export interface AgentAuthOptions {
  agents: AgentStore;
  /** Accept any non-empty token (development on loopback only). */
  insecureDev: boolean;
  now: () => number;
}

/**
 * 401 when the token is missing or belongs to nobody; 403 when it is another agent's. A known agent
 * id is registered implicitly once its token checks out.
 */
export function agentAuth(options: AgentAuthOptions): MiddlewareHandler {
  return async (c, next) => {
    const agentId = c.req.param("agent_id");
    if (!agentId || agentId.length > 200) throw new ApiError(400, "invalid_path", "agent id: 1 to 200 characters");
    const token = bearer(c.req.header("authorization"));
    if (!options.insecureDev) {
      const hash = hashToken(token);
      const expected = options.agents.tokenHash(agentId);
      if (expected === null || !sameHash(hash, expected)) {
        const owner = options.agents.tokenOwner(hash);
        if (owner !== null) throw new ApiError(403, "forbidden", `this token belongs to another agent, not "${agentId}"`);
        throw new ApiError(401, "unauthorized", "invalid token");
      }
    }
    options.agents.touch(agentId, options.now());
    await next();
  };
}

export function adminAuth(adminToken: string): MiddlewareHandler {
  return async (c, next) => {
    const token = bearer(c.req.header("authorization"));
    if (!sameSecret(token, adminToken)) throw new ApiError(401, "unauthorized", "invalid admin token");
    await next();
  };
}
