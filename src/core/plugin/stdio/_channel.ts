/**
 * Requests and answers over one child's stdin/stdout. The protocol has no request ids, so one request is
 * in flight at a time and the next waits its turn; each has its own deadline. A request that misses its
 * deadline still owns the next answer line: that late answer is discarded before anything else is sent,
 * so answers never shift onto the wrong request. Sequenced (the extended protocol), each request carries a
 * `seq` its answer repeats, and a line without the one awaited is noise, never an answer: plugin code that
 * prints a JSON object to fd 1 cannot answer for its host. A request aborted before it was written rejects as
 * `unsent`: the plugin never saw it, so nothing is owed and no one need kill the plugin over it.
 */
import * as v from "valibot";
import { PluginError } from "../errors.ts";
import type { CallOptions, PluginErrorInfo } from "../types.ts";
import type { Line } from "./_lines.ts";
import { type Answer, AnswerSchema, BareErrorSchema, type StdioRequest } from "./_wire.ts";

export interface CallHooks {
  /** Called with true when the request is written, false when it settles. */
  onFlight?: (active: boolean) => void;
}

interface Pending {
  request: StdioRequest;
  resolve(answer: Answer): void;
  reject(error: PluginError): void;
  hooks: CallHooks;
  sent: boolean;
  /** Sequenced channels: the `seq` the request was written with. */
  seq?: number;
  cleanup(): void;
}

/** What became of a stdout line: an answer (or a late one, discarded), or noise for the plugin log. */
export type Received = "answer" | "late" | "noise";

export interface Channel {
  call(request: StdioRequest, options: CallOptions, hooks?: CallHooks): Promise<Answer>;
  /** One complete stdout line. */
  receive(line: Line): Received;
  /** Rejects everything pending, and every later call, with `info`. */
  close(info: PluginErrorInfo): void;
  readonly closed: boolean;
}

export function createChannel(pluginId: string, maxAnswerBytes: number, write: (line: string) => void, options: { sequenced?: boolean } = {}): Channel {
  const sequenced = options.sequenced === true;
  const queue: Pending[] = [];
  let inFlight: Pending | undefined;
  /** The action of a request that missed its deadline and whose answer has not come yet. */
  let owed: string | undefined;
  let owedSeq: number | undefined;
  let nextSeq = 1;
  let closedWith: PluginErrorInfo | undefined;

  const fail = (info: PluginErrorInfo, cause?: unknown) => new PluginError(pluginId, info, cause);

  const settle = (pending: Pending, outcome: { answer: Answer } | { error: PluginError }) => {
    pending.cleanup();
    if (pending === inFlight) {
      inFlight = undefined;
      pending.hooks.onFlight?.(false);
    } else {
      const at = queue.indexOf(pending);
      if (at !== -1) queue.splice(at, 1);
    }
    if ("answer" in outcome) pending.resolve(outcome.answer);
    else pending.reject(outcome.error);
  };

  const pump = () => {
    if (inFlight || owed !== undefined || closedWith) return;
    const next = queue.shift();
    if (!next) return;
    inFlight = next;
    next.sent = true;
    next.hooks.onFlight?.(true);
    if (sequenced) next.seq = nextSeq++;
    try {
      write(`${JSON.stringify(sequenced ? { ...next.request, seq: next.seq } : next.request)}\n`);
    } catch (error) {
      settle(next, { error: fail({ message: `${next.request.action}: cannot write to the plugin`, code: "crashed" }, error) });
      pump();
    }
  };

  /** Deadline or abort: a request already written leaves its answer owed. */
  const expire = (pending: Pending, info: PluginErrorInfo) => {
    if (pending === inFlight) {
      owed = pending.request.action;
      owedSeq = pending.seq;
    }
    settle(pending, { error: fail(info) });
    pump();
  };

  const answer = (value: unknown, pending: Pending) => {
    const action = pending.request.action;
    const parsed = v.safeParse(AnswerSchema, value);
    if (parsed.success) {
      if (parsed.output.action === action) return settle(pending, { answer: parsed.output });
      return settle(pending, { error: fail({ message: `${action}: answered as "${parsed.output.action}"`, code: "invalid_output" }) });
    }
    const bare = v.safeParse(BareErrorSchema, value);
    if (bare.success) return settle(pending, { error: fail({ message: `${action}: ${bare.output.error}`, code: "plugin_error" }) });
    const issue = parsed.issues[0];
    const where = issue?.path?.map((item) => String(item.key)).join(".") ?? "answer";
    settle(pending, { error: fail({ message: `${action}: invalid answer: ${where}: ${issue?.message ?? "invalid"}`, code: "invalid_output" }) });
  };

  /** The answering side writes `seq` first, so even a line too long to parse shows whose answer it is. */
  const receiveSequenced = (line: Line): Received => {
    const answers = (seq: number | undefined) => seq !== undefined && line.text.startsWith(`{"seq":${seq},`);
    if (owed !== undefined && answers(owedSeq)) {
      owed = undefined;
      owedSeq = undefined;
      pump();
      return "late";
    }
    if (!inFlight || !answers(inFlight.seq)) return "noise";
    const action = inFlight.request.action;
    if (line.truncated) {
      settle(inFlight, { error: fail({ message: `${action}: answer longer than ${maxAnswerBytes} bytes`, code: "invalid_output" }) });
    } else {
      let value: unknown;
      try {
        value = JSON.parse(line.text);
      } catch {
        value = undefined;
      }
      answer(value, inFlight);
    }
    pump();
    return "answer";
  };

  return {
    get closed() {
      return closedWith !== undefined;
    },

    call(request, options, hooks = {}) {
      return new Promise<Answer>((resolve, reject) => {
        if (closedWith) return reject(fail(closedWith));
        const { signal, deadline } = options;
        if (signal?.aborted) return reject(fail({ message: `${request.action}: aborted`, code: "cancelled" }, signal.reason));
        const onAbort = () =>
          expire(pending, pending.sent ? { message: `${request.action}: aborted`, code: "cancelled" } : { message: `${request.action}: aborted before it was sent`, code: "unsent" });
        const timer = setTimeout(
          () => expire(pending, { message: `${request.action}: no answer by the deadline`, code: "timeout", retryable: true }),
          Math.max(0, deadline - Date.now()),
        );
        const pending: Pending = {
          request,
          resolve,
          reject,
          hooks,
          sent: false,
          cleanup() {
            clearTimeout(timer);
            signal?.removeEventListener("abort", onAbort);
          },
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        queue.push(pending);
        pump();
      });
    },

    receive(line) {
      if (sequenced) return receiveSequenced(line);
      // Too long to parse; only a line that starts like a JSON object can have been the answer.
      if (line.truncated) {
        if (!line.text.trimStart().startsWith("{")) return "noise";
        if (owed !== undefined) {
          owed = undefined;
          pump();
          return "late";
        }
        if (!inFlight) return "noise";
        const action = inFlight.request.action;
        settle(inFlight, { error: fail({ message: `${action}: answer longer than ${maxAnswerBytes} bytes`, code: "invalid_output" }) });
        pump();
        return "answer";
      }
      let value: unknown;
      try {
        value = JSON.parse(line.text);
      } catch {
        return "noise";
      }
      // Only an object can be an answer; a bare number or string printed by a plugin is noise.
      if (typeof value !== "object" || value === null || Array.isArray(value)) return "noise";
      if (owed !== undefined) {
        owed = undefined;
        pump();
        return "late";
      }
      if (!inFlight) return "noise";
      answer(value, inFlight);
      pump();
      return "answer";
    },

    close(info) {
      if (closedWith) return;
      closedWith = info;
      const all = inFlight ? [inFlight, ...queue] : [...queue];
      for (const pending of all) settle(pending, { error: fail(info) });
    },
  };
}
