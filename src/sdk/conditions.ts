/**
 * Which conditions are active, at which severity, so that an event is emitted when a condition
 * starts or gets worse and exactly one `.resolved` when it clears. Kept in memory and written to
 * ctx.state only on a change, so a restarted agent still resolves what it reported before.
 * Part of the SDK: every trigger with `.resolved` events needs the same bookkeeping.
 */
import type { DetectedEvent, PluginState, Severity } from "./types.ts";

const RANK: Record<Severity, number> = { low: 1, medium: 2, high: 3, critical: 4 };
const STATE_KEY = "active_conditions";

export interface Conditions {
  /**
   * `severity` null means the condition is clear. Returns `fire(severity)` when it starts or rises,
   * `resolve(previous)` when it clears, nothing otherwise (a fall to a lower severity is only noted).
   */
  update(key: string, severity: Severity | null, fire: (severity: Severity) => DetectedEvent, resolve: (previous: Severity) => DetectedEvent): DetectedEvent | undefined;
  /** Active keys, with the severity last reported. */
  active(): ReadonlyMap<string, Severity>;
}

export function createConditions(state: PluginState): Conditions {
  let active: Map<string, Severity> | undefined;
  const load = () => (active ??= new Map(Object.entries(state.get<Record<string, Severity>>(STATE_KEY) ?? {})));
  const save = () => state.set(STATE_KEY, Object.fromEntries(load()));
  return {
    update(key, severity, fire, resolve) {
      const conditions = load();
      const previous = conditions.get(key);
      if (previous === severity || (previous === undefined && severity === null)) return undefined;
      if (severity === null) {
        conditions.delete(key);
        save();
        return resolve(previous as Severity);
      }
      conditions.set(key, severity);
      save();
      return previous === undefined || RANK[severity] > RANK[previous] ? fire(severity) : undefined;
    },
    active: () => load(),
  };
}

/** One memory per plugin instance: ctx.state is made once per instance, so it is the key. */
export function perInstance<T>(make: (state: PluginState) => T): (state: PluginState) => T {
  const made = new WeakMap<PluginState, T>();
  return (state) => {
    let value = made.get(state);
    if (value === undefined) made.set(state, (value = make(state)));
    return value;
  };
}
