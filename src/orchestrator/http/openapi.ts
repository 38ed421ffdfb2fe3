/**
 * The OpenAPI 3.1 description of both APIs, served at /openapi.json. Request bodies come from the
 * same valibot schemas the handlers validate with; a test checks every Hono route is listed here.
 */
import { toJsonSchema } from "@valibot/to-json-schema";
import type * as v from "valibot";
import * as protocol from "../../core/protocol/index.ts";
import { CreateInstructionSchema, RuleSchema } from "../schemas.ts";

type Auth = "agent" | "admin" | "none";
interface Operation {
  method: "get" | "post" | "put" | "delete";
  path: string;
  summary: string;
  auth: Auth;
  body?: v.GenericSchema;
  answer?: v.GenericSchema;
  status?: number;
  query?: string[];
  headers?: string[];
}

const A = "/agents/v1/{agent_id}";
export const OPERATIONS: readonly Operation[] = [
  { method: "post", path: `${A}/heartbeat`, summary: "Report liveness; answers instructions to cancel", auth: "agent", body: protocol.HeartbeatRequestSchema, answer: protocol.HeartbeatResponseSchema },
  { method: "post", path: `${A}/register`, summary: "Register type, version, host and plugins (extension)", auth: "agent", body: protocol.RegisterRequestSchema, answer: protocol.RegisterResponseSchema },
  { method: "get", path: `${A}/instructions`, summary: "Take the next instruction; ?wait=seconds long-polls (≤ 60)", auth: "agent", answer: protocol.PollResponseSchema, query: ["wait"] },
  { method: "put", path: `${A}/instructions/{instruction_id}`, summary: "Report progress; renews the lease", auth: "agent", body: protocol.UpdateRequestSchema, answer: protocol.UpdateResponseSchema },
  { method: "post", path: `${A}/instructions/{instruction_id}/result`, summary: "Report the final result; answers the next instruction", auth: "agent", body: protocol.ResultRequestSchema, answer: protocol.ResultResponseSchema },
  { method: "post", path: `${A}/events`, summary: "Report events, once per Idempotency-Key and event id (extension)", auth: "agent", body: protocol.EventsRequestSchema, answer: protocol.EventsResponseSchema, headers: ["Idempotency-Key"] },
  { method: "post", path: "/api/v1/instructions", summary: "Create an instruction (201; 200 when the Idempotency-Key was seen)", auth: "admin", body: CreateInstructionSchema, status: 201, headers: ["Idempotency-Key"] },
  { method: "get", path: "/api/v1/instructions", summary: "List instructions, newest first", auth: "admin", query: ["agent_id", "status", "limit"] },
  { method: "get", path: "/api/v1/instructions/{id}", summary: "One instruction with status, log, result and timestamps", auth: "admin" },
  { method: "post", path: "/api/v1/instructions/{id}/cancel", summary: "Cancel: at once if pending, else through the agent", auth: "admin" },
  { method: "get", path: "/api/v1/agents", summary: "Agents with liveness, registration and plugins", auth: "admin" },
  { method: "post", path: "/api/v1/agents/{id}/token", summary: "Create or rotate an agent token (shown once)", auth: "admin", status: 201 },
  { method: "get", path: "/api/v1/events", summary: "Events, newest first", auth: "admin", query: ["agent_id", "type", "severity", "since", "limit"] },
  { method: "post", path: "/api/v1/rules", summary: "Create a rule: matching events create an instruction", auth: "admin", body: RuleSchema, status: 201 },
  { method: "get", path: "/api/v1/rules", summary: "List rules", auth: "admin" },
  { method: "get", path: "/api/v1/rules/{id}", summary: "One rule", auth: "admin" },
  { method: "delete", path: "/api/v1/rules/{id}", summary: "Delete a rule", auth: "admin", status: 204 },
  { method: "get", path: "/healthz", summary: "Liveness of the orchestrator itself", auth: "none" },
  { method: "get", path: "/openapi.json", summary: "This document", auth: "none" },
];

function jsonSchema(schema: v.GenericSchema): Record<string, unknown> {
  // Transforms (durations) have no JSON Schema; their input side is described.
  const { $schema: _, ...rest } = toJsonSchema(schema, { target: "draft-2020-12", typeMode: "input", errorMode: "ignore" });
  return rest;
}

const ERROR = {
  description: "Error",
  content: { "application/json": { schema: { type: "object", required: ["error", "message"], properties: { error: { type: "string" }, message: { type: "string" }, issues: { type: "array", items: { type: "object", properties: { field: { type: "string" }, message: { type: "string" } } } } } } } },
};

function operation(op: Operation) {
  const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
  for (const name of op.query ?? []) params.push({ name, in: "query", required: false, schema: { type: "string" } });
  for (const name of op.headers ?? []) params.push({ name, in: "header", required: false, schema: { type: "string" } });
  const status = String(op.status ?? 200);
  const success = status === "204" ? { description: "No content" } : { description: "OK", content: { "application/json": { schema: op.answer ? jsonSchema(op.answer) : { type: "object" } } } };
  return {
    summary: op.summary,
    tags: [op.path.startsWith("/agents/") ? "agents/v1" : op.path.startsWith("/api/") ? "admin" : "meta"],
    ...(op.auth === "none" ? { security: [] } : { security: [{ [op.auth === "agent" ? "agentToken" : "adminToken"]: [] }] }),
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(op.body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(op.body) } } } } : {}),
    responses: { [status]: success, "400": ERROR, "401": ERROR, "403": ERROR, "404": ERROR },
  };
}

export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) (paths[op.path] ??= {})[op.method] = operation(op);
  return {
    openapi: "3.1.0",
    info: { title: "Stavily orchestrator", version, description: "agents/v1 (the agent wire contract and its extensions) and the admin API /api/v1. See docs/protocol.md." },
    components: {
      securitySchemes: {
        agentToken: { type: "http", scheme: "bearer", description: "The agent's token (--tokens file or POST /api/v1/agents/{id}/token)" },
        adminToken: { type: "http", scheme: "bearer", description: "--admin-token, STAVILY_ADMIN_TOKEN, or the one printed at start" },
      },
    },
    paths,
  };
}
