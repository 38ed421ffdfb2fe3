/**
 * The checks between an instruction and a process, all against the local configuration: the
 * command (allowed, not blocked), the working directory (inside allowed_paths after resolving
 * symlinks), and the environment (names the instruction may set).
 */
import { realpath, stat } from "node:fs/promises";
import { basename, isAbsolute, resolve, sep } from "node:path";
import { isProtectedEnv, type ShellConfig } from "./_config.ts";
import { ParamError } from "./_params.ts";

/** Refused by the local configuration: the result carries code permission_denied. */
export class Refused extends Error {
  override name = "Refused";
  readonly code = "permission_denied";
  constructor(message: string) {
    super(`permission denied: ${message}`);
  }
}

type Which = (name: string) => string | null;

/**
 * `command` is what the instruction wrote at a command position. Blocked wins over allowed. An
 * absolute path is allowed when listed, or when it is what a listed name resolves to on PATH; a
 * name is allowed only when listed as that name; a relative path (`./x`, `bin/x`) never is.
 */
export async function checkCommand(command: string, config: ShellConfig, which: Which): Promise<void> {
  const { allowed_commands: allowed, blocked_commands: blocked } = config;
  if (command.includes("/") && !isAbsolute(command)) throw new Refused(`command ${JSON.stringify(command)}: a relative path; use a name on PATH or an absolute path`);
  const resolved = isAbsolute(command) ? command : which(command);
  const real = resolved ? await realpath(resolved).catch(() => resolved) : null;
  const names = [command, basename(command), ...(resolved ? [resolved] : []), ...(real ? [real, basename(real)] : [])];
  const hit = names.find((name) => blocked.includes(name));
  if (hit !== undefined) throw new Refused(`command ${JSON.stringify(command)} is blocked (blocked_commands: ${hit})`);
  const listed = isAbsolute(command)
    ? allowed.includes(command) || allowed.some((entry) => !entry.includes("/") && which(entry) === command)
    : allowed.includes(command);
  if (!listed) {
    const list = allowed.length > 0 ? allowed.join(", ") : "empty: no command may run until the agent's config lists some";
    throw new Refused(`command ${JSON.stringify(command)} is not in allowed_commands (${list})`);
  }
}

/** The environment added to the scrubbed base: the local `env`, then the names the instruction may set. */
export function buildEnv(config: ShellConfig, envVars: Record<string, string> = {}): Record<string, string> {
  const allowList = config.allowed_env_vars;
  for (const name of Object.keys(envVars)) {
    if (allowList.length > 0 ? !allowList.includes(name) : isProtectedEnv(name)) {
      const why = allowList.length > 0 ? `not in allowed_env_vars (${allowList.join(", ")})` : "a protected name; the agent's allowed_env_vars must list it";
      throw new ParamError(`env_vars.${name}`, why);
    }
  }
  return { ...config.env, ...envVars };
}

/**
 * The real path of the working directory, when it is a directory inside the plugin's work dir or
 * an allowed path (both compared by real path, so a symlink cannot lead outside).
 */
export async function checkWorkingDir(dir: string, allowedPaths: readonly string[], workDir: string, field: string): Promise<string> {
  const roots = await realRoots([workDir, ...allowedPaths]);
  const outside = (path: string) => {
    const shown = path === dir ? dir : `${dir} (resolves to ${path})`;
    return new Refused(`working directory ${shown} is outside allowed_paths (${allowedPaths.length > 0 ? allowedPaths.join(", ") : "none configured"}) and the plugin's work dir`);
  };
  let real: string;
  try {
    real = await realpath(dir);
  } catch (error) {
    // Outside the roots, a missing directory is refused like any other: no probing what exists.
    if (!inside(resolve(dir), [workDir, ...allowedPaths, ...roots])) throw outside(dir);
    throw new ParamError(field, `${dir} cannot be used (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (!inside(real, roots)) throw outside(real);
  if (!(await stat(real)).isDirectory()) throw new ParamError(field, `${dir} is not a directory`);
  return real;
}

function inside(path: string, roots: readonly string[]): boolean {
  return roots.some((root) => path === root || path.startsWith(root === sep ? root : root + sep));
}

/** Roots that do not exist allow nothing. */
async function realRoots(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) {
    const real = await realpath(path).catch(() => undefined);
    if (real) out.push(real);
  }
  return out;
}
