import { StavilyError } from "../errors.ts";
import type { PluginErrorInfo } from "./types.ts";

/** A failed plugin call, with the code that tells the supervisor what happened. */
export class PluginError extends StavilyError {
  readonly code: string;
  readonly retryable: boolean;
  readonly pluginId: string;

  constructor(pluginId: string, info: PluginErrorInfo, cause?: unknown) {
    super("plugin", `plugin ${pluginId}: ${info.message}`, { cause, details: info.details ? [JSON.stringify(info.details)] : [] });
    this.name = "PluginError";
    this.pluginId = pluginId;
    this.code = info.code ?? "plugin_error";
    this.retryable = info.retryable ?? false;
  }

  toInfo(): PluginErrorInfo {
    return { message: this.message, code: this.code, retryable: this.retryable };
  }
}
