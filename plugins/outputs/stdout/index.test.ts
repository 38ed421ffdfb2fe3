/**
 * stdout through `stavily plugin run` as a real process: the plugin runs in a Worker of that
 * process, as in the sensor, and what reaches the process's own stdout is what is checked.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { assertPluginConfig, parseBuiltinManifest } from "../../../src/core/plugin/manifest/index.ts";
import { cleanEnv, cliEntry, repoRoot, runCli } from "../../../test/support/cli.ts";
import { BUILTIN_PLUGINS } from "../../all.ts";
import { ConfigSchema } from "./_config.ts";
import { textLine } from "./_lines.ts";

const ID = "stdout";
const MANIFEST = parseBuiltinManifest(ID, BUILTIN_PLUGINS[ID]!.manifest);

const event = (n: number, extra: Record<string, unknown> = {}) => ({
  id: `evt_${n}`,
  type: "cpu.high",
  source: "cpu-monitor",
  trigger_id: "cpu",
  agent_id: "agt_1",
  timestamp: "2026-11-25T12:00:00.000Z",
  severity: "high",
  data: { usage: 90 + n },
  metadata: {},
  tags: [],
  dedupe_key: "total",
  ...extra,
});

/** `plugin run stdout`: the event lines, then plugin run's own status line. */
async function run(batch: unknown[], config: Record<string, unknown> = {}, extra: string[] = []) {
  return runCli(["plugin", "run", ID, "--config", JSON.stringify(config), "--input", JSON.stringify(batch), ...extra]);
}

test("json: each event of the batch is one JSON line on the agent's stdout, in order, nothing else there", async () => {
  const batch = [event(1), event(2, { data: { message: "two\nlines\u0000and a NUL" } }), event(3)];
  const { code, stdout, stderr } = await run(batch);
  expect(stderr).toBe("");
  expect(code).toBe(0);
  const lines = stdout.split("\n");
  expect(lines.pop()).toBe("");
  expect(lines.slice(0, 3).map((line) => JSON.parse(line))).toEqual(batch);
  expect(lines.slice(3)).toEqual([JSON.stringify({ status: "sent", count: 3 })]);
});

test("text: one compact line per event", async () => {
  const { code, stdout } = await run([event(1), { type: "disk.high", severity: "medium", source: "disk space", tags: ["a", "b"] }], { format: "text" });
  expect(code).toBe(0);
  expect(stdout.split("\n").slice(0, 2)).toEqual([
    '2026-11-25T12:00:00.000Z HIGH cpu.high source=cpu-monitor trigger=cpu key=total {"usage":91}',
    "MEDIUM disk.high source=disk_space tags=a,b",
  ]);
});

test("text lines never break: control characters in words become _, data stays JSON", () => {
  expect(textLine({ type: "a\nb", source: "x\r\ny", data: { m: "1\n2" } })).toBe('a_b source=x_y {"m":"1\\n2"}\n');
  expect(textLine("not an event")).toBe('event "not an event"\n');
});

test("an empty batch writes nothing", async () => {
  const { code, stdout } = await run([]);
  expect(code).toBe(0);
  expect(stdout).toBe(`${JSON.stringify({ status: "sent", count: 0 })}\n`);
});

test("a stdout nobody reads fails the send at its deadline; the agent is not held", async () => {
  const dir = mkdtempSync(join(tmpdir(), "stavily-stdout-"));
  try {
    // ~120 KB: more than a pipe holds. `sleep` opens the FIFO for reading and never reads.
    const batch = Array.from({ length: 24 }, (_, i) => event(i, { data: { pad: "x".repeat(5000) } }));
    const script = 'mkfifo "$F" && { sleep 60 < "$F" & holder=$!; "$0" "$1" plugin run stdout --timeout 500ms --input "$2" > "$F"; rc=$?; kill $holder; echo "exit $rc" >&2; }';
    const started = performance.now();
    const proc = Bun.spawn(["sh", "-c", script, process.execPath, cliEntry, JSON.stringify(batch)], {
      cwd: repoRoot,
      env: cleanEnv({ F: join(dir, "fifo") }),
      stdio: ["ignore", "ignore", "pipe"],
      timeout: 20_000,
      killSignal: "SIGKILL",
    });
    const stderr = await new Response(proc.stderr).text();
    expect(await proc.exited).toBe(0);
    expect(stderr).toMatch(/plugin stdout: (no answer within 500 ms|stdout: aborted)/);
    expect(stderr).toEndWith("exit 1\n");
    expect(performance.now() - started).toBeLessThan(10_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("outside a Worker (sandbox level process) it refuses to start instead of writing to its log", async () => {
  const { code, stdout, stderr } = await run([event(1)], {}, ["--set", "security.sandbox.level=process"]);
  expect(code).toBe(1);
  expect(stdout).toBe("");
  expect(stderr).toContain("stdout: the agent's stdout is reachable only from a Worker of the agent (security.sandbox.level worker)");
});

test("plugin.yaml and the plugin's config schema agree on every default", () => {
  expect(v.parse(ConfigSchema, {}) as Record<string, unknown>).toEqual(assertPluginConfig(MANIFEST, {}, "x"));
});
