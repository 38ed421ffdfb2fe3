export { createHealthApp, type HealthAppOptions } from "./app.ts";
export { createAgentMetrics, type AgentMetrics, type AgentMetricsOptions } from "./agent-metrics.ts";
export { startAgentServer, type AgentServer, type AgentServerOptions } from "./agent-server.ts";
export { checkReadiness, type Readiness, type ReadinessInputs } from "./readiness.ts";
export { createRegistry, CONTENT_TYPE, type Registry } from "./metrics.ts";
export { serve, type RunningServer, type ServeOptions } from "./serve.ts";
