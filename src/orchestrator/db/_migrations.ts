/**
 * The orchestrator's schema. Migration n brings `PRAGMA user_version` from n to n+1; each statement is
 * also idempotent (`IF NOT EXISTS`) so a half-applied file from a crash is finished, not broken.
 * Times are INTEGER milliseconds since the epoch; JSON values are TEXT.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE IF NOT EXISTS agents (
    id TEXT PRIMARY KEY,
    first_seen_at INTEGER NOT NULL,
    last_heartbeat_at INTEGER,
    reported_status TEXT,
    heartbeat TEXT,
    registration TEXT,
    registered_at INTEGER
  );
  CREATE TABLE IF NOT EXISTS agent_tokens (
    agent_id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS instructions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    agent_id TEXT NOT NULL,
    plugin_id TEXT NOT NULL,
    instruction_type TEXT NOT NULL,
    plugin_configuration TEXT NOT NULL,
    input_data TEXT NOT NULL,
    context TEXT,
    variables TEXT,
    timeout_seconds INTEGER NOT NULL,
    max_retries INTEGER NOT NULL,
    retry_count INTEGER NOT NULL,
    priority TEXT NOT NULL,
    priority_rank INTEGER NOT NULL,
    correlation_id TEXT,
    idempotency_key TEXT UNIQUE,
    rule_id TEXT,
    event_id TEXT,
    expires_at INTEGER,
    status TEXT NOT NULL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    lease_expires_at INTEGER,
    delivery_count INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    delivered_at INTEGER,
    started_at INTEGER,
    finished_at INTEGER,
    result TEXT,
    error_message TEXT,
    error_details TEXT,
    execution_log TEXT NOT NULL DEFAULT '[]'
  );
  CREATE INDEX IF NOT EXISTS instructions_queue ON instructions (agent_id, status, priority_rank DESC, seq);
  CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id TEXT NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    source TEXT NOT NULL,
    severity TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (agent_id, id)
  );
  CREATE INDEX IF NOT EXISTS events_by_time ON events (timestamp);
  CREATE TABLE IF NOT EXISTS event_batches (
    agent_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    accepted INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (agent_id, idempotency_key)
  );
  CREATE TABLE IF NOT EXISTS rules (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  `,
  // The lease sweep runs inside every delivery: without these it scanned the whole table, 4 times.
  `
  CREATE INDEX IF NOT EXISTS instructions_leases ON instructions (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
  CREATE INDEX IF NOT EXISTS instructions_expiry ON instructions (expires_at) WHERE status = 'pending' AND expires_at IS NOT NULL;
  `,
];
