import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readLines, tamper, tempDirs, writeRotatedLog } from "../../src/core/audit/_testkit.ts";
import { runCli, type RunResult } from "../support/cli.ts";

const temp = tempDirs();
afterEach(() => temp.cleanup());

/** `stavily audit verify <args>`, as a user runs it. */
const auditVerify = (args: string[]): Promise<RunResult> => runCli(["audit", "verify", ...args]);

describe("stavily audit verify", () => {
  test("an intact chain across rotated files", async () => {
    const dir = temp.make();
    const files = await writeRotatedLog(dir, 12);
    const { code, stdout, stderr } = await auditVerify(["--dir", dir]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toStartWith(`ok: 12 records in ${files.length} files, chain intact\n`);
    expect(stdout).toContain("from seq 1 (genesis) to seq 12, last hash ");
  });

  const cases: Array<[string, (files: string[]) => { file: string; line: number }, string]> = [
    ["an altered field", (files) => (tamper.alterField(files[1]!, 2), { file: files[1]!, line: 2 }), "altered"],
    ["a deleted line", (files) => (tamper.deleteLine(files[2]!, 1), { file: files[2]!, line: 1 }), "removed"],
    ["two swapped lines", (files) => (tamper.swapWithNext(files[1]!, 1), { file: files[1]!, line: 1 }), "reordered"],
    ["a truncated last line", (files) => (tamper.truncateLast(files.at(-1)!), { file: files.at(-1)!, line: readLines(files.at(-1)!).length }), "torn"],
    ["the edited first line of a rotated file", (files) => (tamper.alterField(files[3]!, 1), { file: files[3]!, line: 1 }), "altered"],
  ];
  for (const [name, apply, reason] of cases) {
    test(`${name}: exit 1 naming file, line and reason`, async () => {
      const dir = temp.make();
      const { file, line } = apply(await writeRotatedLog(dir, 12));
      const { code, stdout, stderr } = await auditVerify(["--dir", dir]);
      expect(code).toBe(1);
      expect(stdout).toBe("");
      expect(stderr).toStartWith(`audit: ${file}:${line}: ${reason}: `);
    });
  }

  test("-c finds the log the config names under the agent home", async () => {
    const base = temp.make();
    const auditDir = join(base, "agent-web-01", "logs", "audit");
    mkdirSync(auditDir, { recursive: true });
    // Another file in the directory does not confuse it: the config names the log.
    writeFileSync(join(auditDir, "notes.txt"), "not an audit log\n");
    await writeRotatedLog(auditDir, 5, { log_file: join(auditDir, "trail.log") });
    const config = join(base, "action.yaml");
    writeFileSync(config, `agent:\n  type: action\n  id: web-01\n  base_dir: ${base}\nsecurity:\n  audit:\n    log_file: trail.log\n`);
    const { code, stdout, stderr } = await auditVerify(["-c", config]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toStartWith("ok: 5 records in 3 files, chain intact\n");
  });

  test("a directory without an audit log fails rather than passing", async () => {
    const dir = temp.make();
    const { code, stderr } = await auditVerify(["--dir", dir]);
    expect(code).toBe(1);
    expect(stderr).toBe(`stavily: no audit log in ${dir}\n`);
  });
});
