/** The one error shape of both APIs: `{error: code, message, issues?}`, thrown by handlers and rendered by app.onError. */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import * as v from "valibot";

export interface Issue {
  /** Dotted path of the field, e.g. `events.0.timestamp`; empty for the body itself. */
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly issues: Issue[] = [],
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const notFound = (what: string) => new ApiError(404, "not_found", `${what} not found`);

export function renderError(c: Context, error: ApiError) {
  const body: Record<string, unknown> = { error: error.code, message: error.message };
  if (error.issues.length > 0) body.issues = error.issues;
  return c.json(body, error.status);
}

/** Parses and validates a JSON body; a bad one is a 400 that names every wrong field. */
export async function readBody<S extends v.GenericSchema>(c: Context, schema: S): Promise<v.InferOutput<S>> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new ApiError(400, "invalid_json", "the body is not valid JSON");
  }
  const parsed = v.safeParse(schema, raw);
  if (parsed.success) return parsed.output;
  const issues = parsed.issues.map((issue) => ({ field: v.getDotPath(issue) ?? "", message: issue.message }));
  const fields = [...new Set(issues.map((issue) => issue.field || "(body)"))];
  throw new ApiError(400, "invalid_body", `invalid ${fields.join(", ")}`, issues);
}

/** An optional integer query parameter within bounds; anything else is a 400 naming it. */
export function queryInt(c: Context, name: string, min: number, max: number): number | undefined {
  const text = c.req.query(name);
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min) throw new ApiError(400, "invalid_query", `${name}: expected a number ≥ ${min}`, [{ field: name, message: `expected a number ≥ ${min}` }]);
  return Math.min(Math.floor(value), max);
}
