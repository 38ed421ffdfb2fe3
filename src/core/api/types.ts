/** The agent's side of the agents/v1 conversation with the orchestrator. */
import type { Config } from "../config/index.ts";
import type { Logger } from "../log/index.ts";
import type { OnCall } from "./_send.ts";
import type {
  HeartbeatRequest,
  HeartbeatResponse,
  PollResponse,
  RegisterRequest,
  ResultRequest,
  ResultResponse,
  TriggerEvent,
  UpdateRequest,
  UpdateResponse,
} from "../protocol/index.ts";

export interface ApiClientOptions {
  /** api.*, security.tls, security.auth and agent.id are read. */
  config: Config;
  agentType: "sensor" | "action";
  /** For the User-Agent when api.user_agent is empty (the config loader normally fills it). */
  version: string;
  logger?: Logger;
  /** Where $STAVILY_AGENT_TOKEN is looked up when the config carries no token (default process.env). */
  env?: Record<string, string | undefined>;
  /** Told of every HTTP attempt (route template like /agents/v1/{id}/heartbeat, status or error kind, ms), for metrics. */
  onCall?: OnCall;
  /** The orchestrator refused the token (401/403): once per streak, for the audit log. */
  onAuthFailure?: (endpoint: string, status: number) => void;
}

export interface ApiState {
  /** The last call reached the orchestrator and was accepted; false after a refusal or a call that gave up. */
  ready: boolean;
  /** The orchestrator refuses the token; calls are held back until a backoff passes or the token changes. */
  authFailing: boolean;
  /** Date.now() of the last successful call. */
  lastSuccessAt?: number;
  /** Message of the last failed call (redacted). */
  lastError?: string;
}

/**
 * Every method rejects with an ApiError once its retries are spent, or with the signal's reason
 * as soon as `signal` aborts (also during a backoff or rate-limit wait).
 */
export interface ApiClient {
  /** 404 (an orchestrator without the extension) → { supported: false }. */
  register(body: RegisterRequest, signal?: AbortSignal): Promise<{ supported: boolean }>;
  /** 204 → { cancel_instructions: [] }. Not retried (an unkeyed POST); the next beat is the retry. */
  heartbeat(body: HeartbeatRequest, signal?: AbortSignal): Promise<HeartbeatResponse>;
  /** Long poll when waitSeconds > 0: that request's deadline is api.timeout + the wait. */
  poll(options?: { waitSeconds?: number; signal?: AbortSignal }): Promise<PollResponse>;
  update(instructionId: string, body: UpdateRequest, signal?: AbortSignal): Promise<UpdateResponse>;
  /** Keyed by instruction and status, so a retry (or a resend after a restart) is recognised as the same. */
  result(instructionId: string, body: ResultRequest, signal?: AbortSignal): Promise<ResultResponse>;
  /** 404 → { accepted: 0, supported: false }. */
  sendEvents(events: TriggerEvent[], idempotencyKey: string, signal?: AbortSignal): Promise<{ accepted: number; supported: boolean }>;
  /** A snapshot. */
  readonly state: ApiState;
  /** Closes idle connections. */
  close(): void;
}
