import { describe, expect, test } from "bun:test";
import { createAuthGate } from "./_auth-gate.ts";
import { backoffDelay, MAX_BACKOFF_MS, parseRetryAfter, sleep } from "./_backoff.ts";
import { ApiError, httpError, transportError } from "./errors.ts";
import { isLoopback } from "./_transport.ts";
import { jwtExpiry, normalize } from "./_token.ts";

describe("backoff", () => {
  test("full jitter below an exponential ceiling, capped", () => {
    expect(backoffDelay(0, 1000, MAX_BACKOFF_MS, () => 0.999)).toBe(999);
    expect(backoffDelay(3, 1000, MAX_BACKOFF_MS, () => 0.5)).toBe(4000);
    expect(backoffDelay(40, 1000, MAX_BACKOFF_MS, () => 0.999)).toBeLessThan(MAX_BACKOFF_MS);
    expect(backoffDelay(2, 1000, MAX_BACKOFF_MS, () => 0)).toBe(0);
  });

  test("Retry-After as seconds or an HTTP date, capped, never negative", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("3", now)).toBe(3000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10_000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("86400", now)).toBe(MAX_BACKOFF_MS);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  test("sleep rejects with the reason when aborted", async () => {
    const controller = new AbortController();
    const pending = sleep(60_000, controller.signal);
    controller.abort(new Error("bye"));
    await expect(pending).rejects.toThrow("bye");
  });
});

describe("classification", () => {
  test("statuses", () => {
    for (const status of [408, 429, 500, 502, 503, 504]) expect(httpError("x", status).retryable).toBe(true);
    for (const status of [400, 404, 409, 422]) expect(httpError("x", status).retryable).toBe(false);
    expect(httpError("x", 401).kind).toBe("auth");
    expect(httpError("x", 403).kind).toBe("auth");
    expect(httpError("x", 302).retryable).toBe(false);
    expect(httpError("x", 503, { retryAfterMs: 5 }).retryAfterMs).toBe(5);
    expect(httpError("x", 400, { retryAfterMs: 5 }).retryAfterMs).toBeUndefined();
  });

  test("transport failures: timeouts and lost connections retry, certificate problems do not", () => {
    expect(transportError("x", new Error("t"), true, 10).kind).toBe("timeout");
    expect(transportError("x", Object.assign(new TypeError("refused"), { code: "ConnectionRefused" }), false, 10).retryable).toBe(true);
    const tls = transportError("x", Object.assign(new TypeError("bad cert"), { code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" }), false, 10);
    expect(tls).toMatchObject({ kind: "network", retryable: false });
  });

  test("ApiError is a StavilyError of component api, with redacted text", () => {
    const error = new ApiError("http", "Authorization: Bearer abcdefghijkl");
    expect(error.component).toBe("api");
    expect(error.message).not.toContain("abcdefghijkl");
  });
});

describe("auth gate", () => {
  test("backs off exponentially up to the cap; a new token or a success opens it", () => {
    let now = 0;
    const gate = createAuthGate(1000, 5000, () => now);
    gate.failed(0);
    expect(() => gate.check("x", 0)).toThrow("not sent");
    expect(() => gate.check("x", 1)).not.toThrow();
    now = 1000;
    expect(() => gate.check("x", 0)).not.toThrow();
    gate.failed(0);
    now = 2999;
    expect(() => gate.check("x", 0)).toThrow(ApiError);
    now = 3000;
    expect(() => gate.check("x", 0)).not.toThrow();
    for (let i = 0; i < 10; i++) gate.failed(0);
    now += 5000;
    expect(() => gate.check("x", 0)).not.toThrow();
    gate.succeeded();
    expect(gate.failing).toBe(false);
  });
});

describe("small helpers", () => {
  test("loopback hosts", () => {
    for (const host of ["localhost", "127.0.0.1", "127.255.0.9", "[::1]", "::1"]) expect(isLoopback(host)).toBe(true);
    for (const host of ["10.0.0.1", "127.0.0.1.example.com", "localhost.example.com", "::2"]) expect(isLoopback(host)).toBe(false);
  });

  test("token normalisation and JWT expiry", () => {
    expect(normalize("  bearer  abc \n")).toBe("abc");
    const payload = Buffer.from(JSON.stringify({ exp: 10 })).toString("base64url");
    expect(jwtExpiry(`h.${payload}.s`)).toBe(10_000);
    expect(jwtExpiry("not-a-jwt")).toBeUndefined();
  });
});
