/**
 * The compiled `stavily` binary for end-to-end tests: $STAVILY_BINARY when CI built it already,
 * else the host target built once per `bun test` run.
 *
 * "Once per run" holds across test files even when bun test isolates them (fresh globals per file)
 * or spreads them over --parallel workers: the binary lives in a directory named after the run's
 * process, and is built under a private name then renamed into place, so a reader only ever sees a
 * whole binary. Two workers starting together may both build; neither can see the other's half.
 */
import { accessSync, constants, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { binaryName, buildFacts, buildTarget, hostTarget } from "../../scripts/build.ts";

const MEMO = Symbol.for("stavily.test.hostBinary");

export function hostBinary(): Promise<string> {
  const memo = globalThis as { [MEMO]?: Promise<string> };
  memo[MEMO] ??= resolveBinary();
  return memo[MEMO];
}

async function resolveBinary(): Promise<string> {
  const fromEnv = process.env.STAVILY_BINARY;
  if (fromEnv) {
    const path = resolve(fromEnv);
    try {
      accessSync(path, constants.X_OK);
    } catch (error) {
      throw new Error(`test binary: STAVILY_BINARY=${fromEnv} is not an executable file`, { cause: error });
    }
    return path;
  }
  return buildForThisRun();
}

/** --parallel workers carry BUN_TEST_WORKER_ID and are children of the run's coordinator. */
function runPid(): number {
  return process.env.BUN_TEST_WORKER_ID ? process.ppid : process.pid;
}

async function buildForThisRun(): Promise<string> {
  const root = join(tmpdir(), `stavily-test-binary-${process.getuid?.() ?? "user"}`);
  mkdirSync(root, { recursive: true });
  removeFinishedRuns(root);
  const pid = runPid();
  const dir = join(root, `run-${pid}`);
  const target = hostTarget();
  const path = join(dir, binaryName(target));
  if (existsSync(path)) return path;

  const scratch = join(dir, `building-${process.pid}-${crypto.randomUUID()}`);
  try {
    const built = await buildTarget(target, { outdir: scratch, facts: buildFacts() });
    renameSync(built.path, path);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return path;
}

/**
 * bun test fires no "exit" event in test code and no hook runs after the last file, so a run cannot
 * remove its own binary; the next run removes every directory whose run has ended (one ~110 MB file).
 */
function removeFinishedRuns(root: string): void {
  for (const name of readdirSync(root)) {
    const pid = Number(/^run-(\d+)$/.exec(name)?.[1]);
    if (pid && pid !== runPid() && !isAlive(pid)) rmSync(join(root, name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
