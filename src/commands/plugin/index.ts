/** The `stavily plugin …` subcommands, one module each; src/cli.ts wires them. */
export { buildCommand } from "./build.ts";
export { infoCommand } from "./info.ts";
export { installCommand, type InstallFlags } from "./install.ts";
export { listCommand } from "./list.ts";
export { newCommand, type NewFlags } from "./new.ts";
export { removeCommand } from "./remove.ts";
export { rollbackCommand } from "./rollback.ts";
export { runCommand, type RunFlags } from "./run.ts";
export { validateCommand } from "./validate.ts";
export type { PluginFlags } from "./_common.ts";
