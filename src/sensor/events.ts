/**
 * From what a trigger detected to the events the sensor spools: identity (the worker runtime's id of
 * a `detect` event, which a re-run after a crash repeats so the spool and the orchestrator keep it
 * once; else a UUIDv7), source, trigger and agent, the trigger's default severity, and the cooldown
 * that keeps a sustained condition from repeating the same event.
 */
import type { Config } from "../core/config/index.ts";

/** A trigger as configured, with its id and interval filled in. */
export type Trigger = Config["sensor"]["triggers"][number];
import type { DetectedEvent, IdentifiedEvent } from "../core/plugin/types.ts";
import type { TriggerEvent } from "../core/protocol/index.ts";

const RESOLVED = ".resolved";

export interface Cooldowns {
  /** Events the trigger may report now; the rest are within their cooldown. */
  admit(trigger: Pick<Trigger, "id" | "cooldown">, events: readonly DetectedEvent[], now?: number): { admitted: DetectedEvent[]; suppressed: number };
}

/**
 * One condition is (trigger, dedupe_key — or the event type without one). Within the trigger's
 * cooldown it is reported once; its `.resolved` event always passes and ends the cooldown, so the
 * condition's return is reported at once.
 */
export function createCooldowns(): Cooldowns {
  const last = new Map<string, number>();
  return {
    admit(trigger, events, now = Date.now()) {
      const admitted: DetectedEvent[] = [];
      let suppressed = 0;
      for (const event of events) {
        const resolved = event.type.endsWith(RESOLVED);
        const condition = `${trigger.id}\u0000${event.dedupe_key ?? (resolved ? event.type.slice(0, -RESOLVED.length) : event.type)}`;
        if (resolved) {
          last.delete(condition);
          admitted.push(event);
          continue;
        }
        const previous = last.get(condition);
        if (trigger.cooldown > 0 && previous !== undefined && now - previous < trigger.cooldown) {
          suppressed++;
          continue;
        }
        last.set(condition, now);
        admitted.push(event);
      }
      return { admitted, suppressed };
    },
  };
}

export function toTriggerEvent(detected: IdentifiedEvent, trigger: Pick<Trigger, "id" | "plugin" | "severity">, agentId: string, now = new Date()): TriggerEvent {
  return {
    id: detected.id ?? Bun.randomUUIDv7(),
    type: detected.type,
    source: trigger.plugin,
    trigger_id: trigger.id,
    agent_id: agentId,
    timestamp: now.toISOString(),
    severity: detected.severity ?? trigger.severity,
    data: detected.data ?? {},
    metadata: detected.metadata ?? {},
    tags: detected.tags ?? [],
    ...(detected.dedupe_key !== undefined ? { dedupe_key: detected.dedupe_key } : {}),
  };
}
