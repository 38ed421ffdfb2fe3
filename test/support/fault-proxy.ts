/**
 * A fault-injecting HTTP/1.1 proxy for the chaos tests, put between agents and the orchestrator.
 * Raw TCP towards the agents (Bun.listen), so it can reset, cut and stall connections; fetch
 * towards the orchestrator. Each request is matched against the current rules (first hit wins,
 * each rule drawn with its probability from a seeded random source) and what was done is counted.
 *
 * Faults marked `upstream: true` (and truncate, malformed, trickle always) let the request reach
 * the orchestrator first: it acts, and only its answer is lost or spoiled.
 */
export type FaultKind =
  | "latency" // delays the request by delayMs, then passes it
  | "close" // closes the connection (FIN) without answering
  | "reset" // aborts the connection with a TCP RST (SO_LINGER 0, Bun's socket.terminate())
  | "blackhole" // accepts and never answers; the connection stays open until the client gives up
  | "status" // answers `status` (default 503) with a JSON error body
  | "throttle" // answers 429 with Retry-After: retryAfter seconds
  | "truncate" // answers the orchestrator's head with its Content-Length, half the body, then closes
  | "malformed" // answers the orchestrator's status with a body that is not JSON
  | "trickle" // answers the orchestrator's body chunkBytes at a time, every intervalMs
  | "refuse"; // closes (RST) each new connection before reading anything; matches no method/path

export interface FaultRule {
  fault: FaultKind;
  method?: string;
  /** A path (without query) equal to this string, or matching this pattern. */
  path?: string | RegExp;
  /** Chance the rule applies to a matching request, 0..1 (default 1). */
  probability?: number;
  /** close, reset, blackhole: only after the orchestrator handled the request. */
  upstream?: boolean;
  delayMs?: number;
  status?: number;
  retryAfter?: number;
  chunkBytes?: number;
  intervalMs?: number;
}

export interface FaultProxy {
  url: string;
  port: number;
  /** Replaces the rules; [] passes everything through. */
  setRules(rules: FaultRule[]): void;
  /** How often each fault was applied, plus `pass` for requests passed through untouched. */
  counts(): Record<FaultKind | "pass", number>;
  /** Resets every open connection (held long polls, blackholed ones) as a network cut would. */
  severAll(): void;
  stop(): void;
}

interface Conn {
  buffer: Uint8Array;
  busy: boolean;
  dead: boolean;
  /** Bytes waiting for the socket to drain, and who waits for them. */
  pending: Uint8Array[];
  flushed: Array<() => void>;
  upstream: AbortController;
}

const KINDS: FaultKind[] = ["latency", "close", "reset", "blackhole", "status", "throttle", "truncate", "malformed", "trickle", "refuse"];
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "host", "te", "upgrade", "proxy-connection"]);

export function startFaultProxy(options: { upstream: string; random?: () => number; port?: number }): FaultProxy {
  const upstream = options.upstream.replace(/\/+$/, "");
  const random = options.random ?? Math.random;
  let rules: FaultRule[] = [];
  const tally = Object.fromEntries([...KINDS, "pass"].map((kind) => [kind, 0])) as Record<FaultKind | "pass", number>;
  const sockets = new Set<Bun.Socket<Conn>>();

  const draw = (rule: FaultRule) => (rule.probability ?? 1) >= 1 || random() < (rule.probability ?? 1);
  const pick = (request: ProxiedRequest) =>
    rules.find((rule) => {
      if (rule.fault === "refuse") return false;
      if (rule.method && rule.method.toUpperCase() !== request.method) return false;
      if (rule.path !== undefined && !(typeof rule.path === "string" ? rule.path === request.path : rule.path.test(request.path))) return false;
      return draw(rule);
    });

  function write(socket: Bun.Socket<Conn>, bytes: Uint8Array): Promise<void> {
    const conn = socket.data;
    if (conn.dead) return Promise.resolve();
    if (conn.pending.length === 0) {
      const written = socket.write(bytes);
      if (written < 0) return Promise.resolve();
      if (written === bytes.byteLength) return Promise.resolve();
      bytes = bytes.subarray(written);
    }
    conn.pending.push(bytes);
    return new Promise((resolve) => conn.flushed.push(resolve));
  }

  function flush(socket: Bun.Socket<Conn>): void {
    const conn = socket.data;
    while (conn.pending.length > 0) {
      const next = conn.pending[0]!;
      const written = socket.write(next);
      if (written < 0) break;
      if (written < next.byteLength) {
        conn.pending[0] = next.subarray(written);
        return;
      }
      conn.pending.shift();
    }
    conn.pending = [];
    for (const resolve of conn.flushed.splice(0)) resolve();
  }

  function kill(socket: Bun.Socket<Conn>, how: "end" | "terminate"): void {
    const conn = socket.data;
    if (conn.dead) return;
    conn.dead = true;
    conn.upstream.abort();
    for (const resolve of conn.flushed.splice(0)) resolve();
    if (how === "end") socket.end();
    else socket.terminate();
  }

  async function forward(socket: Bun.Socket<Conn>, request: ProxiedRequest): Promise<{ status: number; headers: [string, string][]; body: Uint8Array }> {
    const headers: [string, string][] = request.headers.filter(([name]) => !HOP_BY_HOP.has(name) && name !== "accept-encoding");
    headers.push(["accept-encoding", "identity"]);
    const response = await fetch(`${upstream}${request.target}`, {
      method: request.method,
      headers,
      body: request.body.byteLength > 0 ? request.body : undefined,
      redirect: "manual",
      decompress: false,
      signal: socket.data.upstream.signal,
    });
    const body = new Uint8Array(await response.arrayBuffer());
    const kept = [...response.headers].filter(([name]) => !HOP_BY_HOP.has(name));
    return { status: response.status, headers: kept, body };
  }

  async function answer(socket: Bun.Socket<Conn>, status: number, headers: [string, string][], body: Uint8Array | string): Promise<void> {
    const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
    await write(socket, responseHead(status, [...headers, ["content-length", String(bytes.byteLength)]]));
    await write(socket, bytes);
  }

  /** Handles one request; false when the connection is done with (closed, reset or held). */
  async function handle(socket: Bun.Socket<Conn>, request: ProxiedRequest): Promise<boolean> {
    const rule = pick(request);
    tally[rule?.fault ?? "pass"]++;
    const json: [string, string][] = [["content-type", "application/json"]];
    switch (rule?.fault) {
      case undefined:
      case "latency": {
        if (rule) await Bun.sleep(rule.delayMs ?? 1000);
        const got = await forward(socket, request);
        await answer(socket, got.status, got.headers, got.body);
        return true;
      }
      case "close":
      case "reset":
      case "blackhole":
        if (rule.upstream) await forward(socket, request);
        if (rule.fault === "blackhole") return false;
        kill(socket, rule.fault === "close" ? "end" : "terminate");
        return false;
      case "status":
        await answer(socket, rule.status ?? 503, json, JSON.stringify({ error: "unavailable", message: "fault proxy" }));
        return true;
      case "throttle":
        await answer(socket, 429, [...json, ["retry-after", String(rule.retryAfter ?? 1)]], JSON.stringify({ error: "rate_limited", message: "fault proxy" }));
        return true;
      case "malformed": {
        const got = await forward(socket, request);
        await answer(socket, got.status, got.headers, '{"garbage": [1, 2,, }');
        return true;
      }
      case "truncate": {
        const got = await forward(socket, request);
        await write(socket, responseHead(got.status, [...got.headers, ["content-length", String(Math.max(got.body.byteLength, 2))]]));
        await write(socket, got.body.subarray(0, Math.floor(got.body.byteLength / 2)));
        kill(socket, "end");
        return false;
      }
      case "trickle": {
        const got = await forward(socket, request);
        await write(socket, responseHead(got.status, [...got.headers, ["content-length", String(got.body.byteLength)]]));
        const step = rule.chunkBytes ?? 16;
        for (let at = 0; at < got.body.byteLength && !socket.data.dead; at += step) {
          await Bun.sleep(rule.intervalMs ?? 100);
          await write(socket, got.body.subarray(at, at + step));
        }
        return true;
      }
      case "refuse":
        return true;
    }
  }

  /** Takes the next complete request off the connection's buffer, one at a time. */
  function serve(socket: Bun.Socket<Conn>): void {
    const conn = socket.data;
    if (conn.busy || conn.dead) return;
    let parsed: ReturnType<typeof parseRequest>;
    try {
      parsed = parseRequest(conn.buffer);
    } catch (error) {
      void answer(socket, 400, [], String(error)).then(() => kill(socket, "end"));
      return;
    }
    if (!parsed) return;
    conn.buffer = conn.buffer.subarray(parsed.used);
    conn.busy = true;
    handle(socket, parsed.request)
      .catch(() => {
        // The orchestrator could not be reached, or the client went away meanwhile: like a proxy would.
        if (!conn.dead) return answer(socket, 502, [], "").then(() => true);
        return false;
      })
      .then((goOn) => {
        // A held (blackholed) connection stays busy: nothing more is read from it.
        if (!goOn) return;
        conn.busy = false;
        serve(socket);
      });
  }

  const listener = Bun.listen<Conn>({
    hostname: "127.0.0.1",
    port: options.port ?? 0,
    socket: {
      open(socket) {
        socket.data = { buffer: new Uint8Array(), busy: false, dead: false, pending: [], flushed: [], upstream: new AbortController() };
        sockets.add(socket);
        const refuse = rules.find((rule) => rule.fault === "refuse" && draw(rule));
        if (refuse) {
          tally.refuse++;
          kill(socket, "terminate");
        }
      },
      data(socket, chunk) {
        if (socket.data.dead) return;
        socket.data.buffer = Buffer.concat([socket.data.buffer, chunk]);
        serve(socket);
      },
      drain: flush,
      close(socket) {
        sockets.delete(socket);
        socket.data.dead = true;
        socket.data.upstream.abort();
        for (const resolve of socket.data.flushed.splice(0)) resolve();
      },
      error() {},
    },
  });

  return {
    url: `http://127.0.0.1:${listener.port}`,
    port: listener.port,
    setRules(next) {
      rules = [...next];
    },
    counts: () => ({ ...tally }),
    severAll() {
      for (const socket of sockets) kill(socket, "terminate");
    },
    stop() {
      for (const socket of sockets) kill(socket, "terminate");
      listener.stop(true);
    },
  };
}

interface ProxiedRequest {
  method: string;
  /** The request target as sent: path and query. */
  target: string;
  path: string;
  headers: [string, string][];
  body: Uint8Array;
}

const HEAD_END = Buffer.from("\r\n\r\n");

/** One request from the front of `buffer` (Content-Length bodies only, which is what fetch sends), or undefined until it is whole. */
function parseRequest(buffer: Uint8Array): { request: ProxiedRequest; used: number } | undefined {
  const end = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength).indexOf(HEAD_END);
  if (end < 0) {
    if (buffer.byteLength > 64 * 1024) throw new Error("request head larger than 64 KiB");
    return undefined;
  }
  const [line = "", ...fields] = new TextDecoder().decode(buffer.subarray(0, end)).split("\r\n");
  const [method = "", target = "/"] = line.split(" ");
  const headers = fields.map((field): [string, string] => {
    const colon = field.indexOf(":");
    return [field.slice(0, colon).trim().toLowerCase(), field.slice(colon + 1).trim()];
  });
  const header = (name: string) => headers.find(([key]) => key === name)?.[1];
  if (header("transfer-encoding")) throw new Error("chunked request bodies are not supported by the fault proxy");
  const length = Number(header("content-length") ?? 0);
  const used = end + HEAD_END.byteLength + length;
  if (buffer.byteLength < used) return undefined;
  const body = buffer.slice(end + HEAD_END.byteLength, used);
  return { request: { method: method.toUpperCase(), target, path: target.split("?")[0]!, headers, body }, used };
}

function responseHead(status: number, headers: [string, string][]): Uint8Array {
  const lines = [`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Status"}`, ...headers.map(([name, value]) => `${name}: ${value}`), "connection: keep-alive"];
  return new TextEncoder().encode(`${lines.join("\r\n")}\r\n\r\n`);
}

const STATUS_TEXT: Record<number, string> = { 200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable" };
