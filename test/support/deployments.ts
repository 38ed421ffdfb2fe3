/**
 * Reading deployment files as Docker and Kubernetes would, for test/deployments.test.ts: Dockerfile
 * instructions, .dockerignore matching, compose's ${VAR:-default}; and running an agent under bubblewrap.
 */
import { readFileSync } from "node:fs";

export interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions, continuation lines joined, comments dropped. */
export function dockerfile(file: string): Instruction[] {
  const joined = readFileSync(file, "utf8").replace(/\\\n/g, " ");
  return joined
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(" ") };
    });
}

export const execForm = (args: string): string[] => JSON.parse(args.slice(args.indexOf("["))) as string[];

/** The patterns of a .dockerignore file, in order. */
export function dockerignore(file: string): string[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));
}

/** .dockerignore semantics that matter here: the last matching pattern wins, `!` re-includes. */
export function dockerIgnored(path: string, patterns: string[]): boolean {
  let ignored = false;
  const segments = path.split("/");
  // A pattern that matches a directory matches everything under it.
  const selfAndParents = segments.map((_, i) => segments.slice(0, i + 1).join("/"));
  for (const raw of patterns) {
    const negate = raw.startsWith("!");
    const glob = new Bun.Glob((negate ? raw.slice(1) : raw).replace(/\/$/, ""));
    if (selfAndParents.some((p) => glob.match(p))) ignored = !negate;
  }
  return ignored;
}

/** Compose's `${VAR:-default}` with nothing set, as a fresh checkout runs it. */
export const composeValue = (value: unknown) => String(value).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, "$1");

function agentPid(pid: number, binary: string): number {
  if (readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith(binary)) return pid;
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(" ").filter(Boolean).map(Number);
  for (const child of children) {
    const found = agentPid(child, binary);
    if (found) return found;
  }
  return 0;
}

/** The agent bwrap started (bwrap forks it and does not pass signals on). */
export function sandboxedAgent(pid: number, binary: string): number {
  const found = agentPid(pid, binary);
  if (!found) throw new Error(`deployments test: no ${binary} process under bwrap (pid ${pid})`);
  return found;
}

/** bwrap with a user namespace works here (it does not in every container or CI runner). */
export function canSandbox(): boolean {
  try {
    return Bun.spawnSync(["bwrap", "--ro-bind", "/", "/", "--unshare-user", "--uid", "10001", "--", "true"], { stderr: "ignore" }).success;
  } catch {
    return false; // no bwrap
  }
}
