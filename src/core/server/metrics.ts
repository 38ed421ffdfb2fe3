/**
 * A small Prometheus registry rendering the text exposition format 0.0.4: counters, gauges and
 * histograms with labels. prom-client works on Bun and compiles, but the agent needs a fraction of
 * it and no default collectors; this stays one file with no dependency.
 */

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Record<string, string>;
type Kind = "counter" | "gauge" | "histogram";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Family {
  name: string;
  help: string;
  kind: Kind;
  labelNames: readonly string[];
  render(out: string[]): void;
}

export interface Counter {
  inc(labels?: Labels, by?: number): void;
  /** For counters mirrored from a source that counts by itself (plugin stats, the spool). */
  set(labels: Labels, value: number): void;
  reset(): void;
}

export interface Gauge {
  set(labels: Labels, value: number): void;
  reset(): void;
}

export interface Histogram {
  observe(labels: Labels, value: number): void;
}

export interface Registry {
  counter(name: string, help: string, labelNames?: readonly string[]): Counter;
  gauge(name: string, help: string, labelNames?: readonly string[]): Gauge;
  histogram(name: string, help: string, labelNames?: readonly string[], buckets?: readonly number[]): Histogram;
  /** Runs before every render: for values read at scrape time. */
  onCollect(collect: () => void | Promise<void>): void;
  render(): Promise<string>;
}

export function createRegistry(namespace = ""): Registry {
  const families = new Map<string, Family>();
  const collectors: Array<() => void | Promise<void>> = [];

  function add(name: string, help: string, kind: Kind, labelNames: readonly string[], render: Family["render"]): string {
    const full = namespace ? `${namespace}_${name}` : name;
    if (!METRIC_NAME.test(full)) throw new Error(`metrics: invalid metric name "${full}"`);
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith("__") || (kind === "histogram" && label === "le")) {
        throw new Error(`metrics: invalid label name "${label}" on ${full}`);
      }
    }
    if (families.has(full)) throw new Error(`metrics: ${full} is registered twice`);
    families.set(full, { name: full, help, kind, labelNames, render });
    return full;
  }

  function series(labelNames: readonly string[]) {
    const values = new Map<string, { labels: Labels; value: number }>();
    const key = (labels: Labels) => labelNames.map((name) => labels[name] ?? "").join("\u0000");
    return {
      values,
      get(labels: Labels) {
        const k = key(labels);
        let entry = values.get(k);
        if (!entry) values.set(k, (entry = { labels: pick(labels, labelNames), value: 0 }));
        return entry;
      },
    };
  }

  function simple(kind: "counter" | "gauge", name: string, help: string, labelNames: readonly string[]) {
    const store = series(labelNames);
    const full = add(name, help, kind, labelNames, (out) => {
      for (const { labels, value } of store.values.values()) out.push(`${full}${formatLabels(labels)} ${formatValue(value)}`);
    });
    return {
      inc(labels: Labels = {}, by = 1) {
        if (by < 0) throw new Error(`metrics: ${full} is a counter; it cannot go down`);
        store.get(labels).value += by;
      },
      set: (labels: Labels, value: number) => void (store.get(labels).value = value),
      reset: () => store.values.clear(),
    };
  }

  return {
    counter: (name, help, labelNames = []) => simple("counter", name, help, labelNames),
    gauge: (name, help, labelNames = []) => simple("gauge", name, help, labelNames),
    histogram(name, help, labelNames = [], buckets = DEFAULT_BUCKETS) {
      const bounds = [...buckets].sort((a, b) => a - b);
      const store = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
      const full = add(name, help, "histogram", labelNames, (out) => {
        for (const { labels, counts, sum, count } of store.values()) {
          bounds.forEach((bound, i) => out.push(`${full}_bucket${formatLabels({ ...labels, le: formatValue(bound) })} ${counts[i]}`));
          out.push(`${full}_bucket${formatLabels({ ...labels, le: "+Inf" })} ${count}`);
          out.push(`${full}_sum${formatLabels(labels)} ${formatValue(sum)}`);
          out.push(`${full}_count${formatLabels(labels)} ${count}`);
        }
      });
      return {
        observe(labels, value) {
          const k = labelNames.map((label) => labels[label] ?? "").join("\u0000");
          let entry = store.get(k);
          if (!entry) store.set(k, (entry = { labels: pick(labels, labelNames), counts: bounds.map(() => 0), sum: 0, count: 0 }));
          bounds.forEach((bound, i) => {
            if (value <= bound) entry.counts[i]!++;
          });
          entry.sum += value;
          entry.count++;
        },
      };
    },
    onCollect: (collect) => void collectors.push(collect),
    async render() {
      for (const collect of collectors) await collect();
      const out: string[] = [];
      for (const family of families.values()) {
        out.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.kind}`);
        family.render(out);
      }
      return `${out.join("\n")}\n`;
    },
  };
}

function pick(labels: Labels, names: readonly string[]): Labels {
  return Object.fromEntries(names.map((name) => [name, String(labels[name] ?? "")]));
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${entries.map(([name, value]) => `${name}="${escapeLabel(value)}"`).join(",")}}`;
}

export function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
