/** Puts the pieces together: database, service and app. No listening here (serve.ts). */
import { usageError } from "../core/errors.ts";
import { openDatabase } from "./db/open.ts";
import { APP_DEFAULTS, DEFAULT_LEASE_MS, DEFAULT_MAX_DELIVERIES, type AppOptions } from "./_options.ts";
import { createOrchestratorApp } from "./app.ts";
import { hashToken } from "./auth/tokens.ts";
import type { Notifier } from "./notifier.ts";
import { createService } from "./service.ts";

export interface OrchestratorOptions extends Partial<AppOptions> {
  /** SQLite file (relative to `cwd`) or `:memory:`. */
  db: string;
  adminToken: string;
  /** Lease of a delivered instruction, in ms. */
  leaseMs?: number;
  /** Deliveries of one instruction before a lapsed lease fails it as undeliverable (at least 1). */
  maxDeliveries?: number;
  /** Agent id → token, e.g. from `--tokens`; stored as hashes, replacing earlier tokens of those agents. */
  tokens?: Record<string, string>;
  cwd?: string;
  now?: () => number;
  /** Tests pass their own to observe long polls. */
  notifier?: Notifier;
}

export function createOrchestrator(options: OrchestratorOptions) {
  const maxDeliveries = options.maxDeliveries ?? DEFAULT_MAX_DELIVERIES;
  // 0 would fail every instruction at its first lapsed lease; refused before anything is opened.
  if (!Number.isSafeInteger(maxDeliveries) || maxDeliveries < 1) throw usageError("orchestrator", `maxDeliveries must be a whole number of at least 1, got ${maxDeliveries}`);
  const db = openDatabase(options.db, options.cwd);
  try {
    const service = createService(db, {
      leaseMs: options.leaseMs ?? DEFAULT_LEASE_MS,
      maxDeliveries,
      now: options.now,
      notifier: options.notifier,
    });
    db.transaction(() => {
      for (const [agentId, token] of Object.entries(options.tokens ?? {})) {
        service.agents.setTokenHash(agentId, hashToken(token), "file", service.now());
      }
    })();
    const app = createOrchestratorApp(service, { ...APP_DEFAULTS, ...options });
    let closed = false;
    return {
      app,
      service,
      /** Releases waiting long polls and closes the database; safe to call twice. */
      close() {
        if (closed) return;
        closed = true;
        service.notifier.close();
        db.close();
      },
    };
  } catch (error) {
    db.close();
    throw error;
  }
}
export type Orchestrator = ReturnType<typeof createOrchestrator>;
