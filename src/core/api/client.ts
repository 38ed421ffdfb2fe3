/**
 * createApiClient: the agents/v1 endpoints on top of `send`. Settings that cannot work (no token,
 * plain http:// to another machine, unreadable certificates) are refused here, at start-up.
 */
import {
  EventsResponseSchema,
  HeartbeatResponseSchema,
  PollResponseSchema,
  RegisterResponseSchema,
  ResultResponseSchema,
  UpdateResponseSchema,
} from "../protocol/index.ts";
import { createAuthGate } from "./_auth-gate.ts";
import { createRateLimiter } from "./_rate-limit.ts";
import { createSend } from "./_send.ts";
import { createTokenSource } from "./_token.ts";
import { checkBaseUrl, createTransport } from "./_transport.ts";
import { ApiError } from "./errors.ts";
import type { ApiClient, ApiClientOptions, ApiState } from "./types.ts";

export function createApiClient(options: ApiClientOptions): ApiClient {
  const { config, logger } = options;
  const { api, security } = config;
  const base = checkBaseUrl(api, logger);
  const tokens = createTokenSource({
    tokenFile: security.auth.token_file ?? "",
    apiKey: security.auth.api_key,
    method: security.auth.method,
    env: options.env ?? process.env,
    logger,
  });
  const transport = createTransport(config, logger);
  const state: ApiState = { ready: false, authFailing: false };
  const send = createSend({
    api,
    root: `${base}/agents/v1/${encodeURIComponent(config.agent.id)}`,
    userAgent: api.user_agent || `stavily-agent/${options.version} (${options.agentType}; ${process.platform}/${process.arch})`,
    transport,
    tokens,
    gate: createAuthGate(api.retry_delay),
    limiter: createRateLimiter(api.rate_limit_rps),
    state,
    logger,
    onCall: options.onCall,
    onAuthFailure: options.onAuthFailure,
  });
  const id = encodeURIComponent;

  return {
    async register(body, signal) {
      try {
        await send({ method: "POST", path: "/register", body, idempotencyKey: crypto.randomUUID(), schema: RegisterResponseSchema, empty: { registered: true }, signal });
        return { supported: true };
      } catch (error) {
        if (isNotFound(error)) return { supported: false };
        throw error;
      }
    },
    heartbeat: (body, signal) => send({ method: "POST", path: "/heartbeat", body, schema: HeartbeatResponseSchema, empty: { cancel_instructions: [] }, signal }),
    poll(pollOptions = {}) {
      const wait = Math.max(0, Math.floor(pollOptions.waitSeconds ?? 0));
      return send({
        method: "GET",
        path: "/instructions",
        search: wait > 0 ? { wait: String(wait) } : undefined,
        extraTimeoutMs: wait * 1000,
        schema: PollResponseSchema,
        signal: pollOptions.signal,
      });
    },
    update: (instructionId, body, signal) => send({ method: "PUT", path: `/instructions/${id(instructionId)}`, route: "/instructions/{instruction_id}", body, schema: UpdateResponseSchema, signal }),
    result: (instructionId, body, signal) =>
      send({
        method: "POST",
        path: `/instructions/${id(instructionId)}/result`,
        route: "/instructions/{instruction_id}/result",
        body,
        idempotencyKey: resultKey(instructionId, body.status),
        schema: ResultResponseSchema,
        signal,
      }),
    async sendEvents(events, idempotencyKey, signal) {
      try {
        const answer = await send({ method: "POST", path: "/events", body: { events }, idempotencyKey, schema: EventsResponseSchema, signal });
        return { accepted: answer.accepted, supported: true };
      } catch (error) {
        if (isNotFound(error)) return { accepted: 0, supported: false };
        throw error;
      }
    },
    get state() {
      return { ...state };
    },
    close: () => transport.close(),
  };
}

/** One result per instruction and final status: the same key however often it is sent. */
export function resultKey(instructionId: string, status: string): string {
  return `result:${instructionId}:${status}`;
}

function isNotFound(error: unknown): boolean {
  return error instanceof ApiError && error.kind === "http" && error.status === 404;
}
