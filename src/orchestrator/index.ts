export { createOrchestrator, type Orchestrator, type OrchestratorOptions } from "./orchestrator.ts";
export { createOrchestratorApp, type OrchestratorApp } from "./app.ts";
export { createService, type Service } from "./service.ts";
export { openDatabase, resolveDbPath } from "./db/open.ts";
export { isLoopback, parseListen, serve, type ServeOptions } from "./serve.ts";
export { readTokensFile, generateToken, hashToken } from "./auth/tokens.ts";
export { openApiDocument } from "./http/openapi.ts";
export { APP_DEFAULTS, DEFAULT_LEASE_MS, DEFAULT_MAX_DELIVERIES, type AppOptions } from "./_options.ts";
