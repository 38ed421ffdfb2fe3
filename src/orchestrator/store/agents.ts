/** Agents (first contact, registration, heartbeats) and the SHA-256 hashes of their tokens. */
import type { Database } from "bun:sqlite";
import type { HeartbeatRequest, RegisterRequest } from "../../core/protocol/index.ts";

export interface AgentRow {
  id: string;
  first_seen_at: number;
  last_heartbeat_at: number | null;
  reported_status: string | null;
  heartbeat: string | null;
  registration: string | null;
  registered_at: number | null;
}

export function createAgentStore(db: Database) {
  const hashOf = db.query<{ token_hash: string }, [string]>("SELECT token_hash FROM agent_tokens WHERE agent_id = ?");
  const ownerOf = db.query<{ agent_id: string }, [string]>("SELECT agent_id FROM agent_tokens WHERE token_hash = ?");
  const touch = db.query("INSERT OR IGNORE INTO agents (id, first_seen_at) VALUES (?, ?)");

  return {
    /** Unknown agents are registered implicitly on their first authenticated request. */
    touch(agentId: string, now: number): void {
      touch.run(agentId, now);
    },

    heartbeat(agentId: string, body: HeartbeatRequest, now: number): void {
      db.transaction(() => {
        touch.run(agentId, now);
        db.run("UPDATE agents SET last_heartbeat_at = ?, reported_status = ?, heartbeat = ? WHERE id = ?", [
          now,
          body.status,
          JSON.stringify(body),
          agentId,
        ]);
      })();
    },

    register(agentId: string, body: RegisterRequest, now: number): void {
      db.transaction(() => {
        touch.run(agentId, now);
        db.run("UPDATE agents SET registration = ?, registered_at = ? WHERE id = ?", [JSON.stringify(body), now, agentId]);
      })();
    },

    list: (): AgentRow[] => db.query<AgentRow, []>("SELECT * FROM agents ORDER BY id").all(),
    get: (agentId: string): AgentRow | null => db.query<AgentRow, [string]>("SELECT * FROM agents WHERE id = ?").get(agentId),

    tokenHash: (agentId: string): string | null => hashOf.get(agentId)?.token_hash ?? null,
    tokenOwner: (hash: string): string | null => ownerOf.get(hash)?.agent_id ?? null,

    /** Creates or replaces the agent's token hash; the old token stops working at once. */
    setTokenHash(agentId: string, hash: string, source: "file" | "admin", now: number): void {
      db.transaction(() => {
        const owner = ownerOf.get(hash)?.agent_id;
        if (owner !== undefined && owner !== agentId) throw new Error(`the same token is already given to agent "${owner}"`);
        db.run(
          `INSERT INTO agent_tokens (agent_id, token_hash, source, created_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (agent_id) DO UPDATE SET token_hash = excluded.token_hash, source = excluded.source, created_at = excluded.created_at`,
          [agentId, hash, source, now],
        );
        touch.run(agentId, now);
      })();
    },
  };
}
export type AgentStore = ReturnType<typeof createAgentStore>;
