/**
 * `stavily plugin-host` (hidden): the process a bun plugin runs in at sandbox levels process and strict.
 * The agent starts it with no arguments and sends the launch over stdin (never argv: config and secrets
 * would show in `ps`); it serves the extended Stavily stdio protocol until stdin ends, then exits.
 */
import { runPluginHost } from "../core/plugin/sandbox/_host-process.ts";

export async function pluginHostCommand(): Promise<number> {
  // Exits the process itself: plugin code may leave timers or sockets that would keep it alive.
  return runPluginHost();
}
