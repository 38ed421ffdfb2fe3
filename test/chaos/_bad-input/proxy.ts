/**
 * The proxy between the agents and the orchestrator: it passes calls on untouched, except those a
 * planned fault matches, whose answer it replaces with garbage or (polls) with an instruction of its own.
 * It counts what it sent that the agent cannot use, so the agents' metrics can be held to it.
 */

export type Route = "heartbeat" | "poll" | "update" | "result" | "events" | "register";
export type Garbage = "too_large" | "not_json" | "wrong_types" | "html" | "array";
export const GARBAGE: Garbage[] = ["too_large", "not_json", "wrong_types", "html", "array"];
export const NINE_MIB = 9 * 1024 * 1024;

/** One planned misbehaviour: the answer to the next matching call is garbage, or (polls) an instruction of ours. */
export type Fault = { agent: string; route: Route; garbage: Garbage } | { agent: string; route: "poll"; inject: unknown };

function garbage(kind: Garbage): Response {
  const json = { "content-type": "application/json" };
  switch (kind) {
    case "too_large":
      return new Response(`{"padding":"${"x".repeat(NINE_MIB)}"}`, { headers: json });
    case "not_json":
      return new Response("{not json", { headers: json });
    case "wrong_types":
      return Response.json({ instruction: 5, status: [], cancel_instructions: "all", acknowledged: "yes", success: "maybe", accepted: "many", next_poll_interval: -1 });
    case "html":
      return new Response("<html><body>502 Bad Gateway</body></html>", { headers: { "content-type": "text/html" } });
    case "array":
      return Response.json([1, 2, 3]);
  }
}

function routeOf(method: string, pathname: string): { agent: string; route: Route } | undefined {
  const match = /^\/agents\/v1\/([^/]+)\/(heartbeat|register|events|instructions)(?:\/([^/]+)(\/result)?)?$/.exec(pathname);
  if (!match) return undefined;
  const [, agent, what, instruction, result] = match;
  if (what === "instructions") {
    if (result) return { agent: agent!, route: "result" };
    if (instruction) return method === "PUT" ? { agent: agent!, route: "update" } : undefined;
    return { agent: agent!, route: "poll" };
  }
  return { agent: agent!, route: what as Route };
}

export type Proxy = ReturnType<typeof startProxy>;

export function startProxy(upstream: string) {
  const faults: Fault[] = [];
  /** Faults taken by a call whose answer is not sent yet: a garbage answer waits for the orchestrator's (a long poll, 30 s at most). */
  let answering = 0;
  /** Answers each agent got that it cannot use (garbage, and injected instructions it refuses), by how the agent should classify them. */
  const unusable = new Map<string, { malformed: number; too_large: number }>();
  const count = (agent: string, kind: "malformed" | "too_large") => {
    const counts = unusable.get(agent) ?? { malformed: 0, too_large: 0 };
    counts[kind]++;
    unusable.set(agent, counts);
  };
  /** Polls answered by the orchestrator and passed on untouched, per agent. */
  const okPolls = new Map<string, number>();

  async function answer(request: Request, fault: Fault | undefined, call: ReturnType<typeof routeOf>): Promise<Response> {
    if (fault && "inject" in fault) {
      // Not forwarded: no instruction of the orchestrator's is taken by this poll.
      const body = JSON.stringify({ instruction: fault.inject, status: "instruction_available", next_poll_interval: 0 });
      count(fault.agent, body.length > NINE_MIB - 1024 ? "too_large" : "malformed");
      return new Response(body, { headers: { "content-type": "application/json" } });
    }
    const url = new URL(request.url);
    const headers = new Headers(request.headers);
    headers.delete("host");
    const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
    let upstreamAnswer: Response;
    try {
      upstreamAnswer = await fetch(`${upstream}${url.pathname}${url.search}`, { method: request.method, headers, body, signal: request.signal });
    } catch {
      return new Response("upstream unreachable", { status: 502 });
    }
    const bytes = await upstreamAnswer.arrayBuffer();
    if (fault) {
      // The orchestrator did the work (stored the result, the events, delivered the instruction); the agent never hears it.
      count(fault.agent, fault.garbage === "too_large" ? "too_large" : "malformed");
      return garbage(fault.garbage);
    }
    if (call?.route === "poll" && upstreamAnswer.ok) okPolls.set(call.agent, (okPolls.get(call.agent) ?? 0) + 1);
    const type = upstreamAnswer.headers.get("content-type");
    return new Response(upstreamAnswer.status === 204 ? null : bytes, { status: upstreamAnswer.status, headers: type ? { "content-type": type } : {} });
  }

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    // Long polls are held for 30 s.
    idleTimeout: 0,
    async fetch(request) {
      const call = routeOf(request.method, new URL(request.url).pathname);
      const at = call ? faults.findIndex((fault) => fault.agent === call.agent && fault.route === call.route) : -1;
      const fault = at >= 0 ? faults.splice(at, 1)[0] : undefined;
      if (fault) answering++;
      try {
        return await answer(request, fault, call);
      } finally {
        if (fault) answering--;
      }
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    plan: (...more: Fault[]) => void faults.push(...more),
    /** Faults not yet answered: planned and not taken, or taken and still waiting for the orchestrator. */
    pending: () => faults.length + answering,
    unusable: (agent: string) => ({ malformed: 0, too_large: 0, ...unusable.get(agent) }),
    okPolls: (agent: string) => okPolls.get(agent) ?? 0,
    stop: () => server.stop(true),
  };
}
