/** Which remote URLs a plugin may come from, and how they are shown. */
import { StavilyError } from "../../errors.ts";

/**
 * `raw` parsed, if it is https, or plain http to a loopback address (tests, a local mirror). Anything else is
 * refused: a plugin fetched in clear text could be swapped on the way.
 */
export function remoteUrl(raw: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (error) {
    throw new StavilyError("plugin", `${what} ${JSON.stringify(redactUrl(raw))} is not a URL`, { cause: error });
  }
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && isLoopback(url.hostname)) return url;
  throw new StavilyError("plugin", `${what} ${redactUrl(raw)} must be an https URL (plain http only to a loopback address)`);
}

export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/** The URL without user info or query string, which may carry tokens; for messages and install records. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.username || url.password) url.username = url.password = "";
    url.search = "";
    return url.toString();
  } catch {
    return raw.replace(/\/\/[^/@]*@/, "//");
  }
}
