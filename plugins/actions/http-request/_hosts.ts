/**
 * The host allow-list: exact hosts (`api.example.com`, `10.0.0.5`, `[::1]`), suffix patterns
 * (`*.example.com`, which matches below example.com but not example.com itself), each optionally
 * with `:port`. Hosts are compared after WHATWG URL normalisation, so `0x7f.1`, `127.1` and
 * `127.0.0.1` are one host and a trailing dot changes nothing. An IP literal is allowed only by an
 * exact entry: a pattern never matches an address.
 */
export interface HostRule {
  /** Lower-case host without a trailing dot; for a pattern, the suffix after `*.`. */
  host: string;
  wildcard: boolean;
  /** Undefined = any port. */
  port?: number;
  /** The entry as configured, for messages. */
  entry: string;
}

export const HOST_ENTRY_PATTERN = /^(?:\*\.)?(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

export function parseHostRules(entries: readonly string[]): HostRule[] {
  return entries.map((entry) => {
    if (!HOST_ENTRY_PATTERN.test(entry)) throw new Error(`http-request: allowed_hosts: ${JSON.stringify(entry)} is not a host, host:port or *.suffix`);
    const wildcard = entry.startsWith("*.");
    const parsed = new URL(`http://${wildcard ? entry.slice(2) : entry}`);
    const host = bareHost(parsed.hostname);
    if (wildcard && isIpLiteral(host)) throw new Error(`http-request: allowed_hosts: ${JSON.stringify(entry)}: a pattern cannot name addresses; list each IP exactly`);
    return { host, wildcard, ...(parsed.port !== "" && { port: Number(parsed.port) }), entry };
  });
}

/** The rule that lets `url` through, or undefined. */
export function matchHost(rules: readonly HostRule[], url: URL): HostRule | undefined {
  const host = bareHost(url.hostname);
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  const ip = isIpLiteral(host);
  return rules.find((rule) => {
    if (rule.port !== undefined && rule.port !== port) return false;
    if (!rule.wildcard) return rule.host === host;
    return !ip && host.endsWith(`.${rule.host}`);
  });
}

/** After WHATWG parsing an IPv4 address is always dotted-quad and an IPv6 one bracketed. */
export function isIpLiteral(hostname: string): boolean {
  return hostname.startsWith("[") || /^\d{1,3}(?:\.\d{1,3}){3}$/.test(hostname);
}

function bareHost(hostname: string): string {
  return hostname.toLowerCase().replace(/\.$/, "");
}
