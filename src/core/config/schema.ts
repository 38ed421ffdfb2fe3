/**
 * The one schema of a Stavily agent config file. Every key has its default and a one-line doc here;
 * `stavily config schema` and docs/configuration.md are generated from it.
 */
import * as v from "valibot";
import { bool, duration, int, num, oneOf, optionalDuration, section, size, str, strings } from "./_fields.ts";

export const AGENT_TYPES = ["sensor", "action"] as const;
export type AgentType = (typeof AGENT_TYPES)[number];

export const AGENT_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const AGENT_ID_EXPECTED = "expected an agent id of 1-63 characters: a-z, 0-9, '.', '_' or '-', starting with a letter or digit";

const agent = section(
  {
    id: v.optional(
      v.pipe(v.string(), v.regex(AGENT_ID_PATTERN, AGENT_ID_EXPECTED), v.description("Agent id (default <type>-<hostname>, normalised)")),
    ),
    name: v.optional(v.pipe(v.string(), v.description("Display name (default: the id)"))),
    type: v.optional(v.pipe(v.picklist(AGENT_TYPES), v.description('Agent type; --type overrides ("sensor" or "action")'))),
    tenant_id: str("", "Tenant (organisation) the agent belongs to"),
    environment: str("production", "Environment label, e.g. production, staging, dev"),
    region: str("", "Region label"),
    tags: strings('Free-form tags, e.g. "tier:compute"'),
    base_dir: v.optional(
      v.pipe(
        v.string(),
        v.minLength(1),
        v.description("Where agent homes live (default /var/lib/stavily as root, ~/.stavily otherwise, %ProgramData%\\Stavily on Windows)"),
      ),
    ),
    heartbeat: duration("30s", "Interval between heartbeats", { min: "1s", max: "1h" }),
    poll_interval: duration("30s", "Interval between instruction polls when the orchestrator gives none", { min: "1s", max: "1h" }),
    max_concurrent_tasks: int(4, "Default for action.max_concurrent_tasks", 1, 1000),
    task_timeout: duration("5m", "Default for action.task_timeout", { min: "1s", max: "7d" }),
    shutdown_grace: duration("30s", "How long in-flight work may finish after SIGTERM before it is cancelled", { max: "1h" }),
  },
  "Who the agent is",
);

const api = section(
  {
    base_url: v.optional(
      v.pipe(
        v.string(),
        v.url('expected a URL like "https://orchestrator.example.com"'),
        v.regex(/^[hH][tT][tT][pP][sS]?:\/\//, "expected an http:// or https:// URL"),
        v.description('Orchestrator URL (default "http://127.0.0.1:8000", the local reference orchestrator)'),
      ),
      "http://127.0.0.1:8000",
    ),
    timeout: duration("30s", "Timeout of one HTTP request", { min: "100ms", max: "10m" }),
    retry_attempts: int(3, "Retries of a failed request that is safe to repeat", 0, 100),
    retry_delay: duration("1s", "First retry delay; later ones back off exponentially with jitter", { min: "10ms", max: "10m" }),
    rate_limit_rps: num(10, "Requests per second at most (token bucket)", 0.01, 10_000),
    max_idle_conns: int(10, "Idle keep-alive connections kept open", 0, 1000),
    idle_conn_timeout: duration("90s", "How long an idle connection is kept", { max: "1h" }),
    user_agent: str("", "User-Agent header (default stavily-agent/<version> (<type>; <os>/<arch>))"),
    allow_insecure: bool(false, "Allow a plain http:// base_url to a host that is not loopback"),
  },
  "How the agent talks to the orchestrator",
);

const security = section(
  {
    allow_root: bool(false, "Let the agent run as root; refused otherwise (run it as a dedicated user, see docs/security.md)"),
    tls: section(
      {
        enabled: bool(false, "Use the TLS settings below (https:// URLs always use TLS)"),
        cert_file: str("", "Client certificate (PEM) for mutual TLS"),
        key_file: str("", "Client private key (PEM) for mutual TLS"),
        ca_file: str("", "CA bundle (PEM) trusted for the orchestrator (default: the system's)"),
        server_name: str("", "Server name to verify (default: the host of base_url)"),
        min_version: oneOf(["1.2", "1.3"], "1.2", "Lowest TLS version accepted"),
        insecure_skip_verify: bool(false, "Skip certificate verification (never in production)"),
      },
      "TLS to the orchestrator",
    ),
    auth: section(
      {
        method: oneOf(["api_key", "jwt"], "api_key", "How the agent authenticates"),
        api_key: str("", "The agent's token; prefer token_file or STAVILY_AGENT_TOKEN"),
        token_file: str("", "File holding the token, re-read when it changes"),
      },
      "Agent credentials",
    ),
    sandbox: section(
      {
        enabled: bool(true, "Apply the limits below to plugins"),
        level: oneOf(["worker", "process", "strict"], "worker", "Plugin isolation: worker, process or strict (Linux, bubblewrap)"),
        max_memory: size("512MiB", "Memory limit of one plugin", { min: "16MiB" }),
        max_cpu: num(1, "CPU cores one plugin may use", 0.01, 1024),
        max_exec_time: duration("5m", "Longest run of one plugin call", { min: "1s", max: "7d" }),
        max_file_size: size("100MiB", "Largest file a plugin may write", { min: "1KiB" }),
        network_access: bool(true, "Plugins may use the network at all (each still needs permissions.network)"),
        allowed_paths: strings("Paths plugins may be granted"),
        forbidden_paths: strings("Paths no plugin may be granted, whatever its manifest says"),
      },
      "Plugin sandbox",
    ),
    audit: section(
      {
        enabled: bool(true, "Write the tamper-evident audit log"),
        log_file: str("audit.log", "Audit log file, relative to <home>/logs/audit"),
        max_size: size("100MB", "Rotate the audit log at this size", { min: "1MB" }),
        max_backups: int(10, "Rotated audit logs kept (0 keeps all)", 0, 10_000),
        max_age: duration("90d", "Delete rotated audit logs older than this", { min: "1h", zeroDisables: true }),
      },
      "Audit log",
    ),
  },
  "Credentials, TLS, plugin sandbox and audit",
);

const logging = section(
  {
    level: oneOf(["trace", "debug", "info", "warn", "error", "fatal", "silent"], "info", "Lowest level written"),
    format: oneOf(["text", "json"], "text", "text for people, json for log shippers"),
    output: oneOf(["stdout", "stderr", "file"], "stderr", "Where log lines go"),
    file: str("", "Log file when output is file, relative to <home>/logs (default <type>.log)"),
    max_size: size("100MB", "Rotate the log file at this size", { min: "1MB" }),
    max_backups: int(5, "Rotated log files kept (0 keeps all)", 0, 10_000),
    max_age: duration("30d", "Delete rotated log files older than this", { min: "1h", zeroDisables: true }),
    compress: bool(true, "gzip rotated log files"),
  },
  "Logging",
);

const health = section(
  {
    enabled: bool(true, "Serve /health, /ready, /status"),
    bind: str("127.0.0.1", "Address the health server listens on"),
    port: int(0, "Port of the health server; 0 picks a free one and logs it", 0, 65_535),
    path: str("/health", "Path of the liveness probe"),
    auth_token: str("", "Bearer token required by /status and /metrics (empty: open); /health and /ready stay open"),
  },
  "Health endpoints",
);

const metrics = section(
  {
    enabled: bool(true, "Serve Prometheus metrics"),
    port: int(0, "Port of a separate metrics server; 0 serves them on the health server", 0, 65_535),
    path: str("/metrics", "Path of the metrics endpoint"),
    namespace: v.optional(
      v.pipe(v.string(), v.regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, "expected a Prometheus name: letters, digits and _"), v.description('Prefix of metric names (default "stavily")')),
      "stavily",
    ),
  },
  "Prometheus metrics",
);

const debug = section(
  {
    enabled: bool(false, "Serve /debug/heap and /debug/profile on the health server, loopback only"),
  },
  "Debug endpoints",
);

const plugins = section(
  {
    directory: str("", "Where installed plugins live (default <home>/data/plugins)"),
    auto_load: bool(true, "Load every installed plugin at start"),
    watch_changes: bool(false, "Reload a plugin when its files change"),
    timeout: duration("30s", "Deadline of one plugin call (init, health, …)", { min: "100ms", max: "1h" }),
    max_concurrent: int(10, "Plugin calls running at once", 1, 10_000),
    allowed: strings("Plugin ids allowed to load; empty allows all"),
    config: v.optional(
      v.pipe(v.record(v.string(), v.record(v.string(), v.unknown())), v.description("Local configuration per plugin id (default {})")),
      () => ({}),
    ),
    secrets: v.optional(
      v.pipe(
        v.record(v.string(), v.array(v.pipe(v.string(), v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected an environment variable name")))),
        v.description("Environment variables of the agent each plugin id may read with ctx.secret (default {})"),
      ),
      () => ({}),
    ),
  },
  "Plugins",
);

const SEVERITIES = ["low", "medium", "high", "critical"] as const;

const trigger = v.strictObject({
  plugin: v.pipe(v.string(), v.minLength(1), v.description("Trigger plugin id")),
  id: v.optional(v.pipe(v.string(), v.regex(AGENT_ID_PATTERN, "expected an id: a-z, 0-9, '.', '_' or '-'"), v.description("Trigger id, unique in this agent (default: the plugin id)"))),
  interval: optionalDuration("How often detect runs (default sensor.trigger_check_interval)", { min: "100ms", max: "7d" }),
  config: v.optional(v.pipe(v.record(v.string(), v.unknown()), v.description("Plugin configuration (default {})")), () => ({})),
  severity: oneOf(SEVERITIES, "medium", "Severity of the events it emits"),
  cooldown: duration("0s", "Quiet time before the same condition is reported again"),
  enabled: bool(true, "Run this trigger"),
});

const output = v.strictObject({
  plugin: v.pipe(v.string(), v.minLength(1), v.description("Output plugin id")),
  id: v.optional(v.pipe(v.string(), v.regex(AGENT_ID_PATTERN, "expected an id: a-z, 0-9, '.', '_' or '-'"), v.description("Output id, unique in this agent (default: the plugin id)"))),
  config: v.optional(v.pipe(v.record(v.string(), v.unknown()), v.description("Plugin configuration (default {})")), () => ({})),
  queue_size: int(10_000, "Events waiting for this output at most; beyond, the oldest are dropped and counted", 1, 10_000_000),
  enabled: bool(true, "Send events to this output"),
});

const sensor = section(
  {
    trigger_check_interval: duration("10s", "Default interval of scheduled triggers", { min: "100ms", max: "7d" }),
    max_concurrent_triggers: int(10, "Trigger runs at once", 1, 10_000),
    trigger_timeout: duration("30s", "Deadline of one trigger run", { min: "100ms", max: "1h" }),
    event_buffer_size: int(10_000, "Events kept in the spool at most", 1, 100_000_000),
    event_buffer_bytes: size("64MiB", "Bytes of events kept in the spool at most", { min: "64KiB" }),
    overflow: oneOf(["drop_oldest", "drop_newest"], "drop_oldest", "Which events a full spool drops"),
    batch_size: int(100, "Events in one delivery", 1, 10_000),
    flush_interval: duration("5s", "Longest wait before a partial batch is sent", { min: "10ms", max: "1h" }),
    triggers: v.optional(v.pipe(v.array(trigger), v.description("Triggers to run (default [])")), () => []),
    outputs: v.optional(
      v.pipe(v.array(output), v.description("Output plugins that receive every event too (stdout, file, webhook, …); a failing one never holds up the others (default [])")),
      () => [],
    ),
  },
  "Sensor agent",
);

const action = section(
  {
    max_concurrent_tasks: v.optional(
      v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1000), v.description("Instructions run at once (default agent.max_concurrent_tasks)")),
    ),
    task_timeout: optionalDuration("Deadline of an instruction without its own (default agent.task_timeout)", { min: "1s", max: "7d" }),
    cancel_grace_period: duration("10s", "Time a cancelled or timed-out plugin gets to stop before it is killed", { max: "10m" }),
    journal_retention: duration("7d", "How long finished, acknowledged instructions stay in the journal (duplicates within it run once)", { min: "1h" }),
  },
  "Action agent",
);

export const ConfigSchema = v.strictObject({ agent, api, security, logging, health, metrics, debug, plugins, sensor, action });

/** The config as written (durations and sizes still text). */
export type ConfigInput = v.InferInput<typeof ConfigSchema>;
/** The config after parsing, before the values derived from each other are filled in. */
export type ParsedConfig = v.InferOutput<typeof ConfigSchema>;
export type TriggerConfig = ParsedConfig["sensor"]["triggers"][number];
