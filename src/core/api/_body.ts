/**
 * Reading an answer: at most MAX_BODY_BYTES, then JSON, then the protocol schema. A server that
 * misbehaves (or something impersonating it) gets an ApiError, never a crash.
 */
import * as v from "valibot";
import type { Logger } from "../log/index.ts";
import { redactText } from "../redact.ts";
import { malformedError, tooLargeError } from "./errors.ts";

/** Far above any real answer (an instruction with its input), far below what would hurt the agent. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;
const EXCERPT_CHARS = 200;

export interface BodyContext {
  label: string;
  status: number;
  limit?: number;
  logger?: Logger;
  /** Cancels the read (the request's deadline or the caller's abort); the read rejects with its reason. */
  signal?: AbortSignal;
}

/**
 * The whole body, or ApiError "too_large" as soon as it passes the limit (the rest is not read).
 * A connection lost mid-body rejects with the runtime's error; the caller classifies it.
 */
export async function readCapped(response: Response, context: BodyContext): Promise<Uint8Array> {
  const limit = context.limit ?? MAX_BODY_BYTES;
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) {
    await response.body?.cancel().catch(() => {});
    throw tooLargeError(context.label, context.status, limit);
  }
  if (!response.body) return new Uint8Array();
  const reader = response.body.getReader();
  const { signal } = context;
  // Cancelling makes a pending read() settle, whether or not the runtime ties the body to the fetch signal.
  const onAbort = () => void reader.cancel(signal?.reason).catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      signal?.throwIfAborted();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        await reader.cancel().catch(() => {});
        throw tooLargeError(context.label, context.status, limit);
      }
      chunks.push(value);
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  return Buffer.concat(chunks);
}

/** A short, redacted excerpt for logs and error messages. */
export function excerpt(bytes: Uint8Array): string {
  const text = new TextDecoder().decode(bytes.subarray(0, EXCERPT_CHARS * 4)).replace(/\s+/g, " ").trim();
  return redactText(text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text);
}

/** Parses and validates; a bad answer is logged once here, with an excerpt, and thrown as "malformed". */
export function decode<TSchema extends v.GenericSchema>(schema: TSchema, bytes: Uint8Array, context: BodyContext): v.InferOutput<TSchema> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    throw reject("not JSON", bytes, context, error);
  }
  // Every answer of the contract is a JSON object; valibot's object() would take an array too.
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw reject(`expected a JSON object, got ${Array.isArray(json) ? "an array" : json === null ? "null" : typeof json}`, bytes, context);
  }
  const result = v.safeParse(schema, json);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const path = v.getDotPath(issue);
  throw reject(`${path ? `${path}: ` : ""}${issue.message}`, bytes, context);
}

export function reject(problem: string, bytes: Uint8Array, context: BodyContext, cause?: unknown) {
  context.logger?.warn("the orchestrator sent an answer the agent cannot use", {
    request: context.label,
    status: context.status,
    problem,
    excerpt: excerpt(bytes),
  });
  return malformedError(context.label, context.status, problem, cause);
}
