/**
 * Wakes long polls when an instruction is created for their agent: in-process, no polling loop.
 * A listener is taken *before* the database is checked, so an instruction created between the check
 * and the wait still wakes it (the notification is remembered until `wait`).
 */
export type WakeReason = "notified" | "timeout" | "closed";

export interface Listener {
  /** Resolves when notified (or already notified since `listen`), after `ms`, or when the notifier closes. */
  wait(ms: number, signal?: AbortSignal): Promise<WakeReason>;
  /** Stops listening; always call it, also after `wait`. */
  stop(): void;
}

export interface Notifier {
  listen(agentId: string): Listener;
  notify(agentId: string): void;
  /** How many long polls are listening now (shown by /healthz). */
  listening(): number;
  /** Releases every waiting poll (shutdown) and makes later waits return at once. */
  close(): void;
}

export function createNotifier(): Notifier {
  const listeners = new Map<string, Set<(reason: WakeReason) => void>>();
  let closed = false;

  return {
    listen(agentId) {
      let pending: WakeReason | null = closed ? "closed" : null;
      let wake: ((reason: WakeReason) => void) | null = null;
      const onWake = (reason: WakeReason) => {
        if (wake) wake(reason);
        else pending ??= reason;
      };
      const set = listeners.get(agentId) ?? new Set();
      set.add(onWake);
      listeners.set(agentId, set);
      const stop = () => {
        set.delete(onWake);
        if (set.size === 0 && listeners.get(agentId) === set) listeners.delete(agentId);
      };
      return {
        stop,
        wait(ms, signal) {
          if (pending) return Promise.resolve(pending);
          if (signal?.aborted) return Promise.resolve("closed");
          return new Promise<WakeReason>((resolve) => {
            const finish = (reason: WakeReason) => {
              clearTimeout(timer);
              signal?.removeEventListener("abort", onAbort);
              wake = null;
              resolve(reason);
            };
            const onAbort = () => finish("closed");
            const timer = setTimeout(() => finish("timeout"), Math.max(0, ms));
            signal?.addEventListener("abort", onAbort, { once: true });
            wake = finish;
          });
        },
      };
    },
    notify(agentId) {
      for (const wake of [...(listeners.get(agentId) ?? [])]) wake("notified");
    },
    listening() {
      let count = 0;
      for (const set of listeners.values()) count += set.size;
      return count;
    },
    close() {
      closed = true;
      for (const set of listeners.values()) for (const wake of [...set]) wake("closed");
    },
  };
}
