/**
 * http-request: one HTTP request to an allow-listed host. The agent-local config holds the bounds
 * (hosts, schemes, methods, secrets, sizes, timeout); the instruction's parameters say what to send
 * and can only narrow them. Redirects are followed by hand so every hop is checked.
 */
import { defineAction, type PluginContext } from "../../../src/sdk/index.ts";
import { failure, parseParameters } from "./_errors.ts";
import { matchHost, parseHostRules, type HostRule } from "./_hosts.ts";
import { decodeBody, readCapped, redactHeaders } from "./_response.ts";
import { ConfigSchema, ParametersSchema, type HttpRequestConfig, type HttpRequestParameters } from "./_schema.ts";
import { checkHeaderCredential, checkUrlCredential, createResolver, isSensitiveHeader, scrub } from "./_secrets.ts";

type Ctx = PluginContext<HttpRequestConfig>;

export default defineAction({
  configSchema: ConfigSchema,
  init(ctx) {
    parseHostRules(ctx.config.allowed_hosts); // a bad entry refuses to start, not the first request
  },
  async execute(ctx, request) {
    const params = parseParameters(ParametersSchema, request.parameters);
    const limits = checkBounds(ctx.config, params);
    const resolver = createResolver(ctx.config.secret_env, (name) => ctx.secret(name));
    checkUrlCredential(params.url);
    for (const [name, value] of Object.entries(params.headers)) checkHeaderCredential(name, value);

    const resolvedUrl = resolver.resolve(params.url, "parameters.url");
    let url: URL;
    try {
      url = new URL(resolvedUrl);
    } catch (cause) {
      throw failure("invalid_parameters", `parameters.url: ${JSON.stringify(params.url)} is not an absolute URL`, { cause });
    }

    const rules = parseHostRules(ctx.config.allowed_hosts);
    const secrets = resolver.used;
    const shown = (target: URL) => scrub(target.href, secrets);
    checkTarget(ctx.config, rules, url, "parameters.url", shown(url));

    const headers = new Headers();
    const secretHeaders = new Set<string>();
    for (const [name, value] of Object.entries(params.headers)) {
      const resolved = resolver.resolve(value, `parameters.headers.${name}`);
      if (resolved !== value || isSensitiveHeader(name)) secretHeaders.add(name.toLowerCase());
      headers.set(name, resolved);
    }
    let body: string | undefined;
    if (params.body !== undefined) {
      body = typeof params.body === "string" ? resolver.resolve(params.body, "parameters.body") : JSON.stringify(params.body);
      if (typeof params.body !== "string" && !headers.has("content-type")) headers.set("content-type", "application/json");
      if (Buffer.byteLength(body) > ctx.config.max_request_bytes) {
        throw failure("invalid_parameters", `parameters.body: ${Buffer.byteLength(body)} bytes, over max_request_bytes ${ctx.config.max_request_bytes}`);
      }
    }
    const started = performance.now();
    const deadline = AbortSignal.timeout(limits.timeoutMs);
    let method: string = params.method;
    const redirects: string[] = [];
    let response: Response;
    for (;;) {
      response = await send(ctx, url, { method, headers, body, redirect: "manual", signal: deadline }, limits.timeoutMs, shown(url), secrets);
      const location = response.headers.get("location");
      if (!isRedirect(response.status) || !location || !params.follow_redirects || ctx.config.max_redirects === 0) break;
      await response.body?.cancel().catch(() => {});
      if (redirects.length >= ctx.config.max_redirects) throw failure("request_failed", `${shown(url)}: more than max_redirects (${ctx.config.max_redirects}) redirects`);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw failure("request_failed", `${shown(url)}: redirect to an invalid location ${JSON.stringify(scrub(location, secrets))}`);
      }
      checkTarget(ctx.config, rules, next, `redirect from ${shown(url)}`, shown(next));
      // Like browsers and curl: credentials do not follow a redirect to another origin.
      if (next.origin !== url.origin) for (const name of secretHeaders) headers.delete(name);
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === "POST")) {
        if (method !== "HEAD") method = "GET";
        body = undefined;
        headers.delete("content-type");
      }
      redirects.push(shown(next));
      url = next;
    }

    const raw = await readBody(ctx, response, limits.maxResponseBytes, deadline, limits.timeoutMs, shown(url));
    raw.text = scrub(raw.text, secrets);
    const decoded = decodeBody(response.headers.get("content-type"), raw);
    const durationMs = Math.round(performance.now() - started);
    ctx.logger.info("http request", { request_id: request.id, method, url: shown(url), status: response.status, redirects: redirects.length, duration_ms: durationMs });
    const expected = params.expected_status === undefined ? undefined : [params.expected_status].flat();
    const ok = expected ? expected.includes(response.status) : response.status >= 200 && response.status < 300;
    if (!ok) {
      const excerpt = raw.text.slice(0, 200);
      throw failure("unexpected_status", `${method} ${shown(url)}: status ${response.status}, expected ${expected ? expected.join(" or ") : "2xx"}${excerpt ? `: ${excerpt}` : ""}`, {
        retryable: response.status === 429 || response.status >= 500,
      });
    }
    return {
      status: "completed",
      data: {
        status: response.status,
        status_text: response.statusText,
        url: shown(url),
        redirects,
        headers: redactHeaders(response.headers, ctx.config.redact_headers, secrets),
        body: decoded.body,
        body_format: decoded.format,
        body_bytes: raw.bytes,
        body_truncated: raw.truncated,
        duration_ms: durationMs,
      },
    };
  },
});

/** The request's own limits, refused when they ask for more than the config allows. */
function checkBounds(config: HttpRequestConfig, params: HttpRequestParameters) {
  if (!config.allowed_methods.includes(params.method)) {
    throw failure("not_allowed", `parameters.method: ${params.method} is not in allowed_methods (${config.allowed_methods.join(", ")})`);
  }
  if (params.body !== undefined && (params.method === "GET" || params.method === "HEAD")) {
    throw failure("invalid_parameters", `parameters.body: a ${params.method} request has no body`);
  }
  if (params.timeout_ms !== undefined && params.timeout_ms > config.timeout_ms) {
    throw failure("not_allowed", `parameters.timeout_ms: ${params.timeout_ms} is over the configured timeout_ms ${config.timeout_ms}`);
  }
  if (params.max_response_bytes !== undefined && params.max_response_bytes > config.max_response_bytes) {
    throw failure("not_allowed", `parameters.max_response_bytes: ${params.max_response_bytes} is over the configured max_response_bytes ${config.max_response_bytes}`);
  }
  return { timeoutMs: params.timeout_ms ?? config.timeout_ms, maxResponseBytes: params.max_response_bytes ?? config.max_response_bytes };
}

function checkTarget(config: HttpRequestConfig, rules: HostRule[], url: URL, where: string, shown: string): void {
  const scheme = url.protocol.replace(/:$/, "");
  if (!(config.allowed_schemes as string[]).includes(scheme)) {
    throw failure("not_allowed", `${where}: ${shown}: scheme ${scheme} is not in allowed_schemes (${config.allowed_schemes.join(", ")})`);
  }
  if (!matchHost(rules, url)) {
    throw failure("not_allowed", `${where}: ${shown}: host ${url.host} is not in allowed_hosts`);
  }
}

async function send(ctx: Ctx, url: URL, init: RequestInit, timeoutMs: number, shown: string, secrets: ReadonlySet<string>): Promise<Response> {
  try {
    return await ctx.fetch(url, init);
  } catch (cause) {
    throw abortFailure(ctx, init.signal, cause, shown, `no response within ${timeoutMs} ms`) ??
      failure("request_failed", `${init.method} ${shown}: ${scrub(String((cause as Error)?.message ?? cause), secrets)}`, { cause, retryable: true });
  }
}

async function readBody(ctx: Ctx, response: Response, max: number, deadline: AbortSignal, timeoutMs: number, shown: string) {
  try {
    return await readCapped(response, max);
  } catch (cause) {
    throw abortFailure(ctx, deadline, cause, shown, `the response body did not arrive within ${timeoutMs} ms`) ??
      failure("request_failed", `${shown}: reading the response: ${(cause as Error)?.message ?? cause}`, { cause, retryable: true });
  }
}

/** The failure for an aborted call or a passed deadline; undefined for any other error. */
function abortFailure(ctx: Ctx, deadline: AbortSignal | null | undefined, cause: unknown, shown: string, timedOut: string) {
  if (ctx.signal.aborted) return failure("aborted", `${shown}: aborted`, { cause });
  if (deadline?.aborted) return failure("timeout", `${shown}: ${timedOut}`, { cause, retryable: true });
  return undefined;
}

const isRedirect = (status: number) => status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
