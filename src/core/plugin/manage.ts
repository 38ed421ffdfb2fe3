/**
 * The orchestrator's plugin_install, plugin_update and plugin_uninstall instructions, for both
 * agents. An install is atomic (the installer stages, validates, bundles, then switches), so a
 * failed one leaves the previous version running; a redelivered instruction whose version is
 * already current reports success again instead of failing.
 */
import type { AuditLog } from "../audit/index.ts";
import { errorMessage, StavilyError } from "../errors.ts";
import type { Logger } from "../log/index.ts";
import type { Instruction, ResultRequest } from "../protocol/index.ts";
import type { PluginHost } from "./host.ts";
import { describeInstalled, installPlugin, remove, sourceFromInstruction, validateManifest } from "./install/index.ts";

export interface ManageDeps {
  host: PluginHost;
  pluginsDir: string;
  logger: Logger;
  /** Where installs, updates and removals are recorded, done or failed (nowhere by default). */
  audit?: AuditLog;
}

const AUDIT_EVENTS = { plugin_install: "plugin.install", plugin_update: "plugin.update", plugin_uninstall: "plugin.remove" } as const;

export async function applyPluginInstruction(instruction: Instruction, deps: ManageDeps): Promise<ResultRequest> {
  const result = await apply(instruction, deps);
  const event = AUDIT_EVENTS[instruction.instruction_type as keyof typeof AUDIT_EVENTS];
  if (deps.audit && event) {
    const fields = { instruction_id: instruction.id, plugin: instruction.plugin_id, status: result.status, ...(result.result ?? {}), error: result.error_message };
    try {
      deps.audit.record(event, fields);
    } catch (error) {
      // The change is made and its result must still reach the orchestrator.
      deps.logger.error("audit record not written", { event, ...fields, audit_error: errorMessage(error) });
    }
  }
  return result;
}

async function apply(instruction: Instruction, deps: ManageDeps): Promise<ResultRequest> {
  const id = instruction.plugin_id;
  try {
    if (instruction.instruction_type === "plugin_uninstall") return await uninstall(id, deps);
    return await install(instruction, deps);
  } catch (error) {
    const details = error instanceof StavilyError ? error.details : [];
    deps.logger.error(`${instruction.instruction_type} failed`, { plugin: id, error: errorMessage(error), details });
    return {
      status: "failed",
      error_message: errorMessage(error),
      error_details: { reason: `${instruction.instruction_type.replace("plugin_", "")}_failed`, plugin_id: id, problems: details },
    };
  }
}

async function install(instruction: Instruction, { host, pluginsDir, logger }: ManageDeps): Promise<ResultRequest> {
  const id = instruction.plugin_id;
  const { source, expectedVersion } = sourceFromInstruction(instruction.plugin_configuration);
  const current = await describeInstalled(pluginsDir, id);
  if (current && expectedVersion && current.version === expectedVersion) {
    return { status: "completed", result: { plugin_id: id, version: current.version, previous: current.previous, already_installed: true } };
  }
  const installed = await installPlugin(source, { pluginsDir, validate: validateManifest, expectedId: id, expectedVersion });
  await host.refresh();
  await host.replace(id);
  logger.info(`plugin ${instruction.instruction_type === "plugin_update" ? "updated" : "installed"}`, { plugin: id, version: installed.version, previous: installed.previous });
  return { status: "completed", result: { plugin_id: id, version: installed.version, previous: installed.previous, installed_at: installed.installed_at } };
}

async function uninstall(id: string, { host, pluginsDir, logger }: ManageDeps): Promise<ResultRequest> {
  const removed = await remove(pluginsDir, id);
  await host.refresh();
  await host.replace(id);
  logger.info(removed ? "plugin removed" : "plugin was not installed", { plugin: id });
  return { status: "completed", result: { plugin_id: id, removed } };
}
