/**
 * What every fault-injection scenario shares: its size (short inside `npm test`, full under
 * `npm run chaos`), and the accounting line it ends with. A scenario counts what it emitted, what
 * arrived, and every effect carried out; the line is printed whatever the outcome, then asserted.
 */
import { expect } from "bun:test";

export type ChaosMode = "short" | "full";

/** `STAVILY_CHAOS=full` (set by `npm run chaos`) runs the full-length scenarios. */
export function chaosMode(): ChaosMode {
  return process.env.STAVILY_CHAOS === "full" ? "full" : "short";
}

/** Picks a scenario parameter by mode: `scale({ short: 5_000, full: 60_000 })`. */
export function scale<T>(values: Record<ChaosMode, T>): T {
  return values[chaosMode()];
}

/** bun test's per-test timeout for a scenario: its planned length plus room for set-up and drain. */
export function scenarioTimeout(plannedMs: number): number {
  return plannedMs * 2 + 120_000;
}

export interface Accounting {
  /** Events emitted or instructions created. */
  emitted: number;
  /** Distinct events stored or instructions with a final result. */
  delivered: number;
  /** Effects carried out more than once (an instruction run twice, an event stored twice). */
  duplicated: number;
  /** Anything else the scenario wants on its line: `{ restarts: 12, faults: 480 }`. */
  extra?: Record<string, number | string>;
}

export function accountingLine(scenario: string, counts: Accounting): string {
  const lost = counts.emitted - counts.delivered;
  const extra = Object.entries(counts.extra ?? {}).map(([key, value]) => `, ${key} ${value}`).join("");
  return `chaos[${scenario}] (${chaosMode()}): emitted ${counts.emitted}, delivered ${counts.delivered}, lost ${lost}, duplicated effects ${counts.duplicated}${extra}`;
}

/** Prints the scenario's accounting line, then fails the test unless nothing was lost or duplicated. */
export function account(scenario: string, counts: Accounting): void {
  console.log(accountingLine(scenario, counts));
  expect({ lost: counts.emitted - counts.delivered, duplicated: counts.duplicated }).toEqual({ lost: 0, duplicated: 0 });
}

/** How many values occur more than once, counting each extra occurrence: [a, a, a, b] → 2. */
export function duplicates(values: Iterable<string | number>): number {
  const seen = new Set<string | number>();
  let extra = 0;
  for (const value of values) {
    if (seen.has(value)) extra++;
    else seen.add(value);
  }
  return extra;
}

/** A seeded random source, so a failing scenario can be replayed with `STAVILY_CHAOS_SEED`. */
export function chaosRandom(): { seed: number; next(): number; int(min: number, max: number): number } {
  const seed = Number(process.env.STAVILY_CHAOS_SEED) || Math.floor(Math.random() * 2 ** 31);
  let state = seed >>> 0 || 1;
  const next = () => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { seed, next, int: (min, max) => min + Math.floor(next() * (max - min + 1)) };
}
