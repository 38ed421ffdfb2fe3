/**
 * A strict reader of the Prometheus text format 0.0.4, for tests: every line must be a HELP, a TYPE
 * or a sample of a family whose TYPE came first; anything else throws with the line number.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  types: Map<string, string>;
  help: Map<string, string>;
  samples: Sample[];
  /** The value of one sample, matched by name and a subset of its labels. */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const VALUE = "(?:[+-]?(?:\\d+\\.?\\d*(?:[eE][+-]?\\d+)?|\\.\\d+(?:[eE][+-]?\\d+)?)|[+-]?Inf|NaN)";
const HELP_LINE = new RegExp(`^# HELP (${NAME}) ((?:[^\\\\\\n]|\\\\[\\\\n])*)$`);
const TYPE_LINE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
const SAMPLE_LINE = new RegExp(`^(${NAME})(\\{(?:${LABEL}(?:,${LABEL})*,?)?\\})? (${VALUE})(?: -?\\d+)?$`);

export function parseExposition(text: string): Exposition {
  if (!text.endsWith("\n")) throw new Error("exposition: the last line must end with a newline");
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  text
    .slice(0, -1)
    .split("\n")
    .forEach((line, index) => {
      const where = `exposition line ${index + 1}: ${JSON.stringify(line)}`;
      let match: RegExpExecArray | null;
      if ((match = HELP_LINE.exec(line))) {
        if (help.has(match[1]!)) throw new Error(`${where}: second HELP`);
        help.set(match[1]!, match[2]!);
      } else if ((match = TYPE_LINE.exec(line))) {
        if (types.has(match[1]!)) throw new Error(`${where}: second TYPE`);
        if (samples.some((sample) => family(sample.name, types) === match![1])) throw new Error(`${where}: TYPE after samples`);
        types.set(match[1]!, match[2]!);
      } else if ((match = SAMPLE_LINE.exec(line))) {
        const name = match[1]!;
        if (!family(name, types)) throw new Error(`${where}: sample without a TYPE`);
        const labels: Record<string, string> = {};
        for (const pair of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
          if (pair[1]! in labels) throw new Error(`${where}: label ${pair[1]} twice`);
          labels[pair[1]!] = pair[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
        }
        samples.push({ name, labels, value: Number(match[3]!.replace(/Inf$/, "Infinity")) });
      } else {
        throw new Error(`${where}: not HELP, TYPE or a sample`);
      }
    });
  return {
    types,
    help,
    samples,
    value: (name, labels = {}) => samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value,
  };
}

/** The family a sample belongs to: its own name, or a histogram/summary's base name. */
function family(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, "");
  return base !== name && (types.get(base) === "histogram" || types.get(base) === "summary") ? base : undefined;
}
