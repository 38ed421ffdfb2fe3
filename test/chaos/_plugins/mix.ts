/**
 * What one instruction of the plugins scenario asks for, what it may end as, and the classification of
 * how a mix ended: a table of outcomes by mode, the collateral endings, and the problems.
 */

/** Level strict needs bubblewrap (CI installs it); STAVILY_TEST_NO_BWRAP=1 leaves it out, as the unit tests do. */
export const LEVELS = process.env.STAVILY_TEST_NO_BWRAP === "1" ? (["worker", "process"] as const) : (["worker", "process", "strict"] as const);
export type Level = "worker" | "process" | "strict";

const MISBEHAVIOUR = ["throw", "crash", "exit", "exit-early", "hang-busy", "hang-promise", "garbage", "flood", "memory", "fork-storm"] as const;
export type Mode = "ok" | (typeof MISBEHAVIOUR)[number];

export interface Planned {
  id: string;
  plugin: string;
  mode: Mode;
  token: string;
  input: Record<string, unknown>;
}

/**
 * The codes each mode ends with when it is the one misbehaving. Any instruction may also end as the
 * collateral of another on the same copy: the copy quarantined (fails at once), restarting past the
 * instruction's limit, or killed while this call waited its turn behind a hang.
 */
const EXPECTED: Record<Mode, string[]> = {
  ok: ["completed"],
  flood: ["completed"],
  throw: ["plugin_error"],
  crash: ["crashed"],
  exit: ["crashed"],
  "exit-early": ["crashed"],
  "hang-busy": ["timeout"],
  "hang-promise": ["timeout"],
  garbage: ["invalid_output"],
  // At level worker a paced blow-up may reach its 1 s limit before the once-a-second heap check.
  memory: ["crashed", "memory_limit", "timeout"],
  "fork-storm": ["crashed", "timeout"],
};
const COLLATERAL = ["quarantined", "unavailable", "killed", "timeout", "crashed", "memory_limit", "invalid_output"];

export interface MixOptions {
  random: { next(): number; int(min: number, max: number): number };
  /** How many copies of misbehave there are (ids misbehave-0…). */
  copies: number;
  /** The fork storms' children are `sleep <marker>`, one marker per level. */
  marker: (level: Level) => string;
}

/** The `n`th instruction of a level's mix, drawn from `options.random`. */
export function plan(level: Level, n: number, options: MixOptions): Planned {
  const { random } = options;
  const token = `t-${level}-${n}`;
  // A third are well-behaved instructions for steady; the rest go to a random copy of misbehave, one in
  // ten of them well-behaved too (it completes unless the copy is quarantined or a neighbour's end takes it).
  const roll = random.next();
  if (roll < 0.33) return { id: "", plugin: "steady", mode: "ok", token, input: { token } };
  const plugin = `misbehave-${random.int(0, options.copies - 1)}`;
  const mode: Mode = roll < 0.4 ? "ok" : MISBEHAVIOUR[random.int(0, MISBEHAVIOUR.length - 1)]!;
  const input: Record<string, unknown> = { mode, token };
  // Plugin code writing to fd 1 at level worker writes to the agent's own stdout: not a plugin fault to test there.
  if (mode === "garbage") input.raw_stdout = level !== "worker";
  // At level worker the heap is the agent's: it grows at a pace the once-a-second heap check can catch.
  if (mode === "memory") input.pace_ms = level === "worker" ? 100 : 0;
  if (mode === "fork-storm") {
    Object.assign(input, { marker: options.marker(level), children: 10, then: (["hang", "exit", "busy"] as const)[random.int(0, 2)], raw: level !== "worker" });
  }
  return { id: "", plugin, mode, token, input };
}

/** A good instruction for a plugin: `steady`, or a copy of misbehave told to behave. */
export function goodOne(plugin: string, token: string): Planned {
  return { id: "", plugin, mode: "ok", token, input: plugin === "steady" ? { token } : { mode: "ok", token } };
}

/** The code an instruction ended with: `completed`, `timeout`, or its error code. */
export function codeOf(instruction: any): string {
  if (!instruction) return "no final result";
  if (instruction.status === "completed" || instruction.status === "timeout") return instruction.status;
  return String(instruction.error_details?.code ?? instruction.error_details?.reason ?? "none");
}

/**
 * How the mix ended (`done`), and the good instruction sent to each copy after it (`after`): what each
 * mode ended as, how many ended as another's collateral, the copies quarantined, and every problem.
 */
export function classify(planned: Planned[], done: Map<string, any>, after: Planned[], afterDone: Map<string, any>) {
  const quarantined = new Set<string>();
  for (const p of planned) if (codeOf(done.get(p.id)) === "quarantined") quarantined.add(p.plugin);
  const table = new Map<string, number>();
  let collateral = 0;
  const problems: string[] = [];
  for (const p of planned) {
    const instruction = done.get(p.id);
    const code = codeOf(instruction);
    if (!instruction) {
      problems.push(`${p.mode} ${p.id} on ${p.plugin}: no final result`);
      continue;
    }
    const row = `${p.plugin === "steady" ? "steady" : p.mode} → ${code}`;
    table.set(row, (table.get(row) ?? 0) + 1);
    if (p.plugin === "steady") {
      if (instruction.status !== "completed" || instruction.result?.token !== p.token) problems.push(`steady ${p.id}: ${JSON.stringify(instruction)}`);
      continue;
    }
    if (instruction.status === "completed" && !EXPECTED[p.mode].includes("completed")) problems.push(`${p.mode} ${p.id} completed`);
    if (instruction.status === "completed" && instruction.result?.token !== p.token) problems.push(`${p.mode} ${p.id}: result of another instruction: ${JSON.stringify(instruction.result)}`);
    if (instruction.status !== "completed" && !instruction.error_message) problems.push(`${p.mode} ${p.id}: ${instruction.status} without a reason`);
    if (!EXPECTED[p.mode].includes(code)) {
      if (COLLATERAL.includes(code)) collateral++;
      else problems.push(`${p.mode} ${p.id} on ${p.plugin}: ${instruction.status} ${code}: ${instruction.error_message}`);
    }
  }
  for (const p of after) {
    const instruction = afterDone.get(p.id);
    if (!instruction) {
      problems.push(`after the storm, ${p.plugin}: no final result`);
      continue;
    }
    const expected = quarantined.has(p.plugin) ? "quarantined" : "completed";
    // A copy quarantined by the very last of its ends is only seen quarantined now.
    if (codeOf(instruction) === "quarantined") quarantined.add(p.plugin);
    else if (codeOf(instruction) !== expected) problems.push(`after the storm, ${p.plugin} (${expected} expected): ${instruction.status} ${codeOf(instruction)}: ${instruction.error_message}`);
  }
  return { table, collateral, problems, quarantined };
}
