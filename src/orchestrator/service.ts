/**
 * The orchestrator's operations over its stores: what both HTTP APIs and the rules engine call.
 * Anything that creates an instruction goes through here so waiting long polls are woken after commit.
 */
import type { Database } from "bun:sqlite";
import type { TriggerEvent } from "../core/protocol/index.ts";
import { createNotifier, type Notifier } from "./notifier.ts";
import { instructionFor, matches } from "./rules/match.ts";
import type { CreateInstructionBody } from "./schemas.ts";
import { createAgentStore } from "./store/agents.ts";
import { createEventStore } from "./store/events.ts";
import { createInstructionStore, type NewInstruction } from "./store/instructions.ts";
import { createQueue } from "./store/queue.ts";
import { createRuleStore } from "./store/rules.ts";
import type { InstructionRow } from "./store/_rows.ts";

export interface ServiceOptions {
  /** How long a delivered instruction stays with its agent without an update, in ms. */
  leaseMs: number;
  /** Deliveries of one instruction before a lapsed lease fails it as undeliverable instead of redelivering it. */
  maxDeliveries: number;
  /** The clock, in ms since the epoch; tests may pass their own. */
  now?: () => number;
  notifier?: Notifier;
}

export function createService(db: Database, options: ServiceOptions) {
  const now = options.now ?? Date.now;
  const notifier = options.notifier ?? createNotifier();
  const agents = createAgentStore(db);
  const instructions = createInstructionStore(db);
  const queue = createQueue(db, options.leaseMs, options.maxDeliveries);
  const events = createEventStore(db);
  const rules = createRuleStore(db);

  function toNew(body: CreateInstructionBody, at: number, idempotencyKey?: string): NewInstruction {
    const { expires_in, expires_at, ...rest } = body;
    const expires = expires_in !== undefined ? at + expires_in : expires_at !== undefined ? Date.parse(expires_at) : undefined;
    return { ...rest, expires_at: expires, idempotency_key: idempotencyKey };
  }

  return {
    db,
    now,
    notifier,
    leaseMs: options.leaseMs,
    agents,
    instructions,
    queue,
    events,
    rules,

    createInstruction(body: CreateInstructionBody, idempotencyKey?: string): { row: InstructionRow; created: boolean } {
      const at = now();
      const outcome = instructions.create(toNew(body, at, idempotencyKey), at);
      if (outcome.created) notifier.notify(outcome.row.agent_id);
      return outcome;
    },

    /**
     * Stores a batch once per Idempotency-Key and each event once per id; rules fire only for events
     * stored now, so a retried batch or a re-sent event fires nothing twice. One transaction for all.
     */
    ingestEvents(agentId: string, batch: readonly TriggerEvent[], idempotencyKey?: string): number {
      const at = now();
      const woken = new Set<string>();
      const accepted = db.transaction(() => {
        if (idempotencyKey) {
          const previous = events.batchAnswer(agentId, idempotencyKey);
          if (previous !== null) return previous;
        }
        agents.touch(agentId, at);
        const activeRules = rules.list();
        for (const event of batch) {
          if (!events.insert(agentId, event, at)) continue;
          const stored = { ...event, agent_id: agentId, received_at: new Date(at).toISOString() };
          for (const rule of activeRules.filter((candidate) => matches(candidate, stored))) {
            const made = instructions.create(instructionFor(rule, stored, at), at);
            if (made.created) woken.add(made.row.agent_id);
          }
        }
        if (idempotencyKey) events.recordBatch(agentId, idempotencyKey, batch.length, at);
        return batch.length;
      })();
      for (const target of woken) notifier.notify(target);
      return accepted;
    },
  };
}
export type Service = ReturnType<typeof createService>;
