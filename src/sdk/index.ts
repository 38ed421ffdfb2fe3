export { defineAction, defineOutput, defineTrigger, retryable } from "./define.ts";
export { createConditions, perInstance, type Conditions } from "./conditions.ts";
export { parseParameters, pluginFailure, type PluginFailure } from "./failure.ts";
export { parseRetryAfter, retryableStatus, retryDelay, wait, type BackoffOptions } from "./retry.ts";
export type {
  ActionOutput,
  ActionPlugin,
  ActionRequest,
  AgentIdentity,
  AnyPlugin,
  DetectedEvent,
  DetectOutput,
  ExecOptions,
  ExecResult,
  OutputPlugin,
  PluginContext,
  PluginFs,
  PluginHealth,
  PluginHooks,
  PluginLogger,
  PluginState,
  PluginSystem,
  Severity,
  TriggerPlugin,
} from "./types.ts";
