/**
 * The host's side of calls into a worker: ids, deadlines, aborts and the one place that rejects
 * everything pending when the worker dies. Transport-agnostic (`post` sends a message).
 */
import { errorMessage } from "../../errors.ts";
import { PluginError } from "../errors.ts";
import type { PluginErrorInfo } from "../types.ts";
import type { CallMethod, HostMessage } from "./_protocol.ts";

export interface CallSpec {
  method: CallMethod;
  args: unknown[];
  deadline: number;
  signal?: AbortSignal;
  /** Checks and converts the worker's value; what it throws rejects the call with code invalid_output. */
  accept?: (value: unknown) => unknown;
  /** Called with each log line the call's ctx writes. */
  onLog?: (line: string) => void;
}

interface Pending {
  method: CallMethod;
  resolve(value: unknown): void;
  reject(error: PluginError): void;
  accept: (value: unknown) => unknown;
  onLog?: (line: string) => void;
  cleanup(): void;
}

export interface Rpc {
  call(spec: CallSpec): Promise<unknown>;
  settle(id: number, outcome: { value: unknown } | { error: PluginErrorInfo }): void;
  /** The log callback of a pending call, if it has one. */
  onLogOf(id: number): ((line: string) => void) | undefined;
  /** Rejects every pending call and every later one with this error. */
  closeAll(info: PluginErrorInfo): void;
  readonly pending: number;
}

export function createRpc(pluginId: string, post: (message: HostMessage) => void): Rpc {
  const calls = new Map<number, Pending>();
  let nextId = 1;
  let closed: PluginErrorInfo | undefined;

  const fail = (id: number, info: PluginErrorInfo, cause?: unknown) => {
    const pending = calls.get(id);
    if (!pending) return;
    calls.delete(id);
    pending.cleanup();
    pending.reject(new PluginError(pluginId, { ...info, message: `${pending.method}: ${info.message}` }, cause));
  };

  return {
    call(spec) {
      if (closed) return Promise.reject(new PluginError(pluginId, { ...closed, message: `${spec.method}: ${closed.message}` }));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const remaining = Math.max(0, spec.deadline - Date.now());
        // The worker is told to abort too, but the caller does not wait for it: a plugin stuck in a
        // loop never reads the message. Killing it is the supervisor's decision.
        const timer = setTimeout(() => {
          tell({ t: "abort", id, reason: "deadline" });
          fail(id, { message: `no reply within the deadline (${new Date(spec.deadline).toISOString()})`, code: "timeout", retryable: true });
        }, remaining);
        // An abort reaches the plugin's ctx.signal; the call still waits for its answer until the
        // deadline, so a plugin that stops cleanly reports how it ended, and one that ignores the
        // abort times out (and the supervisor kills it).
        const onAbort = () => tell({ t: "abort", id, reason: "aborted" });
        spec.signal?.addEventListener("abort", onAbort, { once: true });
        calls.set(id, {
          method: spec.method,
          resolve,
          reject,
          accept: spec.accept ?? ((value) => value),
          onLog: spec.onLog,
          cleanup() {
            clearTimeout(timer);
            spec.signal?.removeEventListener("abort", onAbort);
          },
        });
        if (spec.signal?.aborted) {
          onAbort();
          return fail(id, { message: "aborted before it started", code: "aborted" }, spec.signal.reason);
        }
        if (!tell({ t: "call", id, method: spec.method, args: spec.args, deadline: spec.deadline })) {
          fail(id, { message: "could not send the call to the worker", code: "crashed" });
        }
      });
    },
    settle(id, outcome) {
      const pending = calls.get(id);
      if (!pending) return; // late reply to a call that timed out or was aborted
      if ("error" in outcome) return fail(id, outcome.error);
      let value: unknown;
      try {
        value = pending.accept(outcome.value);
      } catch (error) {
        return fail(id, { message: errorMessage(error), code: "invalid_output" }, error);
      }
      calls.delete(id);
      pending.cleanup();
      pending.resolve(value);
    },
    onLogOf: (id) => calls.get(id)?.onLog,
    closeAll(info) {
      closed ??= info;
      for (const id of [...calls.keys()]) fail(id, info);
    },
    get pending() {
      return calls.size;
    },
  };

  function tell(message: HostMessage): boolean {
    try {
      post(message);
      return true;
    } catch {
      return false; // worker already gone: the close handler rejects what is pending
    }
  }
}
