/**
 * One plugin instance at a sandbox level. `worker`: a Bun Worker for bun plugins (fault isolation
 * only). `process`: every plugin in its own process, a bun plugin in `stavily plugin-host`. `strict`:
 * that process inside bubblewrap. Non-bun plugins are processes at every level.
 */
import fs from "node:fs";
import { createStdioInstance, type StdioCommand, type StdioDeps } from "../stdio/index.ts";
import type { PluginInstance, PluginLaunch } from "../types.ts";
import { createWorkerInstance } from "../worker/index.ts";
import { buildBwrapArgv, findBwrap, interpreterPrefix } from "./_bwrap.ts";
import { SANDBOX_DEFAULTS, SYSTEM_PATH, type SandboxLevel, type SandboxOptions } from "./_options.ts";
import { selfCommand } from "./_self.ts";

export function createSandboxedInstance(launch: PluginLaunch, level: SandboxLevel, options: Partial<SandboxOptions> = {}): PluginInstance {
  const opts: SandboxOptions = { ...SANDBOX_DEFAULTS, ...options };
  const deps: StdioDeps = { options: opts.stdio, logger: opts.logger };
  if (level === "worker") return launch.runtime === "bun" ? createWorkerInstance(launch, opts.worker) : createStdioInstance(launch, deps);
  const self = launch.runtime === "bun" ? selfCommand() : undefined;
  const command: StdioCommand = self ? hostCommand(launch, self.argv, opts) : {};
  if (level === "strict") Object.assign(command, strictCommand(launch, self?.readPaths ?? [], opts));
  return createStdioInstance(launch, { ...deps, command });
}

/** A bun plugin as a process: the plugin host, speaking the extended protocol, its memory limit raised by the runtime's own. */
function hostCommand(launch: PluginLaunch, argv: string[], opts: SandboxOptions): StdioCommand {
  const limit = launch.limits.memory;
  return { main: argv, extended: true, dataLimit: limit > 0 ? limit + opts.bunRuntimeReserve : 0 };
}

/** The same command inside bwrap. Failures surface when the instance starts (start rejects `spawn_failed`). */
function strictCommand(launch: PluginLaunch, programPaths: string[], opts: SandboxOptions): StdioCommand {
  return {
    // The agent's HOME is not inside; the work dir is the plugin's own.
    env: { HOME: launch.workDir, TMPDIR: "/tmp" },
    wrap(main) {
      if (process.platform !== "linux") throw new Error(`sandbox level strict needs Linux; this is ${process.platform}`);
      const bwrap = findBwrap(opts.searchPath ?? `${process.env.PATH ?? ""}:${SYSTEM_PATH}`);
      if (!bwrap) throw new Error("sandbox level strict needs bubblewrap (bwrap), which is not installed");
      // bwrap binds only what exists; these two are the plugin's and are made here, private to the agent's user.
      for (const dir of [launch.workDir, launch.stateDir]) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      // python, node, bash: main[0] is the resolved interpreter, which may live outside the system dirs (pyenv, nvm).
      const interpreted = launch.runtime !== "bun" && launch.runtime !== "executable";
      const prefix = interpreted ? interpreterPrefix(main[0] ?? "") : null;
      return buildBwrapArgv({
        bwrap,
        launch,
        network: launch.permissions.network && opts.networkAccess,
        programPaths: prefix ? [...programPaths, prefix] : programPaths,
        command: main,
      });
    },
  };
}
