import { describe, expect, test } from "bun:test";
import { createRegistry } from "./metrics.ts";
import { parseExposition } from "./_testkit.ts";

describe("metrics registry", () => {
  test("renders counters, gauges and histograms in the 0.0.4 text format", async () => {
    const registry = createRegistry("ns");
    const calls = registry.counter("http_requests_total", "HTTP calls\\ by code\nand endpoint", ["endpoint", "code"]);
    const depth = registry.gauge("spool_events", "Events in the spool");
    const duration = registry.histogram("duration_seconds", "How long", ["status"], [0.1, 1]);
    calls.inc({ endpoint: '/a/"quoted"\\back\nslash', code: "200" });
    calls.inc({ endpoint: "/b", code: "503" }, 2);
    depth.set({}, 7);
    duration.observe({ status: "completed" }, 0.05);
    duration.observe({ status: "completed" }, 0.5);
    duration.observe({ status: "completed" }, 3);
    registry.onCollect(() => depth.set({}, 8));

    const text = await registry.render();
    const parsed = parseExposition(text);
    expect(parsed.types.get("ns_http_requests_total")).toBe("counter");
    expect(parsed.help.get("ns_http_requests_total")).toBe("HTTP calls\\\\ by code\\nand endpoint");
    expect(text).toContain('ns_http_requests_total{endpoint="/a/\\"quoted\\"\\\\back\\nslash",code="200"} 1');
    expect(parsed.value("ns_http_requests_total", { endpoint: '/a/"quoted"\\back\nslash' })).toBe(1);
    expect(parsed.value("ns_http_requests_total", { endpoint: "/b", code: "503" })).toBe(2);
    expect(parsed.value("ns_spool_events")).toBe(8);
    expect(parsed.value("ns_duration_seconds_bucket", { le: "0.1" })).toBe(1);
    expect(parsed.value("ns_duration_seconds_bucket", { le: "1" })).toBe(2);
    expect(parsed.value("ns_duration_seconds_bucket", { le: "+Inf" })).toBe(3);
    expect(parsed.value("ns_duration_seconds_count")).toBe(3);
    expect(parsed.value("ns_duration_seconds_sum")).toBeCloseTo(3.55);
  });

  test("special values and an empty family still parse", async () => {
    const registry = createRegistry();
    const gauge = registry.gauge("odd", "Odd values", ["k"]);
    gauge.set({ k: "nan" }, NaN);
    gauge.set({ k: "inf" }, Infinity);
    gauge.set({ k: "ninf" }, -Infinity);
    gauge.set({ k: "big" }, 1e21);
    registry.counter("never_total", "Never incremented");
    const parsed = parseExposition(await registry.render());
    expect(parsed.value("odd", { k: "inf" })).toBe(Infinity);
    expect(parsed.value("odd", { k: "ninf" })).toBe(-Infinity);
    expect(parsed.value("odd", { k: "nan" })).toBeNaN();
    expect(parsed.value("odd", { k: "big" })).toBe(1e21);
    expect(parsed.types.get("never_total")).toBe("counter");
  });

  test("refuses bad names, duplicate families and a counter going down", () => {
    const registry = createRegistry("ns");
    expect(() => registry.counter("bad-name", "x")).toThrow(/invalid metric name "ns_bad-name"/);
    expect(() => registry.gauge("g", "x", ["__reserved"])).toThrow(/invalid label name/);
    expect(() => registry.histogram("h", "x", ["le"])).toThrow(/invalid label name "le"/);
    registry.gauge("twice", "x");
    expect(() => registry.gauge("twice", "x")).toThrow(/registered twice/);
    expect(() => registry.counter("c_total", "x").inc({}, -1)).toThrow(/cannot go down/);
  });

  test("the test parser rejects what is not 0.0.4", () => {
    expect(() => parseExposition("x 1\n")).toThrow(/without a TYPE/);
    expect(() => parseExposition('# TYPE x gauge\nx{a="unterminated} 1\n')).toThrow(/not HELP, TYPE or a sample/);
    expect(() => parseExposition("# TYPE x gauge\nx one\n")).toThrow(/not HELP, TYPE or a sample/);
    expect(() => parseExposition("# TYPE x gauge\nx 1")).toThrow(/newline/);
  });
});
