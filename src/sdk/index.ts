export { defineAction, defineOutput, defineTrigger, retryable } from "./define.ts";
export { createConditions, perInstance, type Conditions } from "./conditions.ts";
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
