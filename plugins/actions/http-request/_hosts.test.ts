import { expect, test } from "bun:test";
import { isIpLiteral, matchHost, parseHostRules } from "./_hosts.ts";

const allowed = (entries: string[], url: string) => matchHost(parseHostRules(entries), new URL(url))?.entry;

test("exact hosts, suffix patterns and ports", () => {
  expect(allowed(["api.example.com"], "https://API.example.com./v1")).toBe("api.example.com");
  expect(allowed(["api.example.com"], "https://api.example.com.evil.net/")).toBeUndefined();
  expect(allowed(["*.example.com"], "https://a.b.example.com/")).toBe("*.example.com");
  expect(allowed(["*.example.com"], "https://example.com/")).toBeUndefined();
  expect(allowed(["*.example.com"], "https://badexample.com/")).toBeUndefined();
  expect(allowed(["api.example.com:8443"], "https://api.example.com/")).toBeUndefined();
  expect(allowed(["api.example.com:8443"], "https://api.example.com:8443/")).toBe("api.example.com:8443");
  expect(allowed(["api.example.com:443"], "https://api.example.com/")).toBe("api.example.com:443");
});

test("IP literals: only exact entries, compared after normalisation", () => {
  expect(allowed(["127.0.0.1"], "http://0x7f.1/")).toBe("127.0.0.1");
  expect(allowed(["127.0.0.1"], "http://2130706433/")).toBe("127.0.0.1");
  expect(allowed(["[::1]"], "http://[0:0::1]:8080/")).toBe("[::1]");
  expect(allowed(["*.example.com", "localhost"], "http://127.0.0.1/")).toBeUndefined();
  expect(() => parseHostRules(["*.0.0.1"])).toThrow("a pattern cannot name addresses");
  expect(isIpLiteral("10.0.0.5")).toBe(true);
  expect(isIpLiteral("10.example")).toBe(false);
});

test("entries that are not hosts are refused", () => {
  expect(() => parseHostRules(["http://example.com"])).toThrow("is not a host");
  expect(() => parseHostRules(["*"])).toThrow("is not a host");
  expect(() => parseHostRules(["ex ample.com"])).toThrow("is not a host");
});
