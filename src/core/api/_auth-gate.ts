/**
 * After the orchestrator refuses the token, calls are not sent again until a growing backoff has
 * passed or the token changed: an agent left running for months with a revoked token must not
 * hammer the server (or fill its logs) every second.
 */
import { ApiError } from "./errors.ts";

export const MAX_AUTH_BACKOFF_MS = 5 * 60_000;

export interface AuthGate {
  readonly failing: boolean;
  /** Throws ApiError "auth" while backing off, unless the token generation moved on since the refusal. */
  check(label: string, generation: number): void;
  failed(generation: number): void;
  succeeded(): void;
}

export function createAuthGate(baseMs: number, capMs = MAX_AUTH_BACKOFF_MS, now: () => number = Date.now): AuthGate {
  let failures = 0;
  let until = 0;
  let refusedGeneration = -1;
  return {
    get failing() {
      return failures > 0;
    },
    check(label, generation) {
      if (failures === 0 || generation !== refusedGeneration) return;
      const wait = until - now();
      if (wait > 0) {
        throw new ApiError("auth", `${label}: not sent: the orchestrator refused the token ${failures} time(s); next try in ${Math.ceil(wait / 1000)} s or as soon as the token changes`);
      }
    },
    failed(generation) {
      failures++;
      refusedGeneration = generation;
      until = now() + Math.min(capMs, baseMs * 2 ** Math.min(failures - 1, 30));
    },
    succeeded() {
      failures = 0;
      until = 0;
    },
  };
}
