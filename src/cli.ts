#!/usr/bin/env bun
/**
 * The one entrypoint of the `stavily` executable: cac wiring only. Each command returns its exit
 * code; one catch below turns errors into one clear line each and exit code 1 or 2.
 */
import { cac } from "cac";
import type { ConfigFlags } from "./commands/config.ts";
import type { HealthFlags } from "./commands/health.ts";
import type { AuditVerifyFlags } from "./commands/audit.ts";
import type { OrchestratorFlags } from "./commands/orchestrator.ts";
import type { ServiceFlags } from "./commands/service.ts";
import type * as PluginCommands from "./commands/plugin/index.ts";
import { buildInfo } from "./core/build-info.ts";
import { EXIT, StavilyError, errorMessage } from "./core/errors.ts";
import { redactText } from "./core/redact.ts";

type Handler = (...args: any[]) => number | Promise<number>;

// Each command's modules load when it runs, not at start: an agent never evaluates the
// orchestrator, the installer or the plugin templates, which keeps its resident memory down.
const config = () => import("./commands/config.ts");
const plugin = () => import("./commands/plugin/index.ts");
const service = () => import("./commands/service.ts");
type PluginFlags = PluginCommands.PluginFlags;

function buildCli() {
  const cli = cac("stavily");
  const withConfigFlags = (command: ReturnType<typeof cli.command>) =>
    command
      .option("-c, --config <file>", "Config file (default $STAVILY_CONFIG, ./stavily.yaml, /etc/stavily/<type>.yaml)")
      .option("--type <type>", "Agent type: sensor or action (default agent.type in the file)")
      .option("--set <key=value>", "Override one config key, e.g. --set api.timeout=10s (repeatable)");

  cli
    .command("version", "Print version, git commit, build date, Bun version and target")
    .option("--json", "Print as JSON")
    .example("  stavily version --json")
    .action(run(async (options: { json?: boolean }) => (await import("./commands/version.ts")).versionCommand(options)));

  withConfigFlags(cli.command("config validate", "Check a config file; print every problem with file:line:column"))
    .example("  stavily config validate -c /etc/stavily/action.yaml")
    .example("  stavily config validate --type sensor --set api.base_url=https://orchestrator.example.com")
    .action(run(async (flags: ConfigFlags) => (await config()).validateCommand(flags)));

  withConfigFlags(cli.command("config print", "Print the effective config (file < env < flags), secrets redacted"))
    .option("--format <format>", "yaml or json", { default: "yaml" })
    .example("  STAVILY_API_BASE_URL=https://orch.example.com stavily config print -c stavily.yaml")
    .action(run(async (flags: ConfigFlags) => (await config()).printCommand(flags)));

  cli
    .command("config schema", "Print the JSON Schema of the config file, for editor completion")
    .example("  stavily config schema > stavily.schema.json")
    .action(run(async () => (await config()).schemaCommand()));

  withConfigFlags(cli.command("home init", "Create the agent home (refused while an agent with the same id runs)"))
    .example("  stavily home init -c /etc/stavily/sensor.yaml")
    .action(run(async (flags: ConfigFlags) => (await import("./commands/home.ts")).homeInitCommand(flags)));

  withConfigFlags(cli.command("audit verify", "Walk the audit log's hash chain; exit 1 at the first altered, removed or reordered record"))
    .option("--dir <dir>", "Directory of the audit log (default: that of security.audit.log_file)")
    .example("  stavily audit verify -c /etc/stavily/action.yaml")
    .example("  stavily audit verify --dir /var/lib/stavily/agent-web-01/logs/audit")
    .action(run(async (flags: AuditVerifyFlags) => (await import("./commands/audit.ts")).auditVerifyCommand(flags)));

  cli
    .command("dev", "Run the whole loop on this machine: orchestrator, sensor and action agent, with a demo rule")
    .option("--keep", "Keep the temporary directory (databases, agent homes, logs) after stopping")
    .option("--every <duration>", "How often the demo writes a file into the watched directory", { default: "5s" })
    .example("  stavily dev")
    .example("  stavily dev --every 2s --keep")
    .action(run(async (flags: { keep?: boolean; every?: string }) => (await import("./commands/dev.ts")).devCommand(flags)));

  cli
    .command("sensor", "Run the sensor agent: watch this machine through trigger plugins and report events")
    .option("-c, --config <file>", "Config file (default $STAVILY_CONFIG, ./stavily.yaml, /etc/stavily/sensor.yaml)")
    .option("--set <key=value>", "Override one config key, e.g. --set sensor.batch_size=500 (repeatable)")
    .example("  stavily sensor -c /etc/stavily/sensor.yaml")
    .example("  STAVILY_AGENT_TOKEN=… stavily sensor --set api.base_url=http://127.0.0.1:8000")
    .action(run(async (flags: ConfigFlags) => (await import("./commands/sensor.ts")).sensorCommand(flags)));

  cli
    .command("action", "Run the action agent: take instructions from the orchestrator and carry them out")
    .option("-c, --config <file>", "Config file (default $STAVILY_CONFIG, ./stavily.yaml, /etc/stavily/action.yaml)")
    .option("--set <key=value>", "Override one config key, e.g. --set api.base_url=https://orch.example.com (repeatable)")
    .example("  stavily action -c /etc/stavily/action.yaml")
    .example("  STAVILY_AGENT_TOKEN=… stavily action --set api.base_url=http://127.0.0.1:8000")
    .action(run(async (flags: ConfigFlags) => (await import("./commands/action.ts")).actionCommand(flags)));

  withConfigFlags(cli.command("health", "Probe a running agent's /ready (or liveness with --live): exit 0 when it answers 200, 1 otherwise"))
    .option("--url <url>", "The agent's health server, e.g. http://127.0.0.1:9100 (default from health.bind and health.port)")
    .option("--live", "Probe the liveness path (health.path) instead of /ready")
    .option("--timeout <seconds>", "Give up after this many seconds (default 5)")
    .example("  stavily health --url http://127.0.0.1:9100")
    .example("  stavily health -c /etc/stavily/action.yaml --live")
    .action(run(async (flags: HealthFlags) => (await import("./commands/health.ts")).healthCommand(flags)));

  // On run and validate, -c also takes the plugin's own configuration, as a JSON object.
  const pluginRunFlags = (command: ReturnType<typeof cli.command>) =>
    command
      .option("-c, --config <file|json>", "Agent config file; a JSON object is the plugin's configuration (both may be given)")
      .option("--type <type>", "Agent type: sensor or action (default agent.type in the file; else sensor for a trigger folder, action otherwise)")
      .option("--set <key=value>", "Override one agent config key, e.g. --set plugins.timeout=10s (repeatable)");

  withConfigFlags(cli.command("plugin list", "List built-in, installed and folder plugins, and those that failed to load"))
    .option("--json", "Print as JSON")
    .example("  stavily plugin list -c /etc/stavily/action.yaml")
    .action(run(async (flags: PluginFlags) => (await plugin()).listCommand(flags)));

  withConfigFlags(cli.command("plugin info <plugin>", "Show a plugin's manifest, permissions, limits and configuration schema"))
    .option("--json", "Print as JSON")
    .example("  stavily plugin info echo")
    .action(run(async (id: string, flags: PluginFlags) => (await plugin()).infoCommand(id, flags)));

  pluginRunFlags(cli.command("plugin validate <dir>", "Check a plugin folder: its manifest (file:line:col), and that it loads and starts"))
    .example("  stavily plugin validate ./disk-usage")
    .example(`  stavily plugin validate ./disk-usage --config '{"threshold":90}'`)
    .action(run(async (dir: string, flags: ConfigFlags) => (await plugin()).validateCommand(dir, flags)));

  cli
    .command("plugin new <id>", "Create a working plugin folder with a test")
    .option("--type <type>", "trigger, action or output")
    .option("--runtime <runtime>", "bun or python", { default: "bun" })
    .option("--dir <dir>", "Create <dir>/<id>", { default: "." })
    .option("--name <name>", "Display name (default from the id)")
    .example("  stavily plugin new disk-usage --type trigger")
    .example("  stavily plugin new restart-unit --type action --runtime python --dir plugins")
    .action(run(async (id: string, flags: PluginCommands.NewFlags) => (await plugin()).newCommand(id, flags)));

  pluginRunFlags(cli.command("plugin run <plugin>", "Run one plugin (folder or id) locally and print its events or result"))
    .option("--input <json>", "Action: the request parameters; output: the batch (JSON)")
    .option("--once", "Trigger: detect once and exit")
    .option("--interval <duration>", "Trigger: time between detects until Ctrl-C (default 10s)")
    .option("--timeout <duration>", "Deadline of one call (default 30s)")
    .example(`  stavily plugin run echo --input '{"message":"hi"}'`)
    .example(`  stavily plugin run ./disk-usage --once --config '{"threshold":0}'`)
    .example("  stavily plugin run ./disk-usage --interval 5s -c /etc/stavily/sensor.yaml")
    .action(run(async (target: string, flags: PluginCommands.RunFlags) => (await plugin()).runCommand(target, flags)));

  cli
    .command("plugin build <dir>", "Bundle a bun plugin with its npm dependencies, as install does")
    .example("  stavily plugin build ./my-plugin")
    .action(run(async (dir: string) => (await plugin()).buildCommand(dir)));

  withConfigFlags(cli.command("plugin install <source>", "Install a plugin from a folder, an archive, an https URL or a git repository"))
    .option("--sha256 <hex>", "SHA-256 of the archive (required for a URL)")
    .option("--ref <ref>", "git: a tag, branch:<name>, or a commit")
    .option("--sub-dir <path>", "The plugin's folder inside the archive or repository")
    .option("--force", "Install again over the same version")
    .option("--json", "Print the installed plugin as JSON")
    .example("  stavily plugin install ./my-plugin")
    .example("  stavily plugin install https://example.com/my-plugin-1.2.0.tgz --sha256 9f86d0…")
    .example("  stavily plugin install https://github.com/acme/stavily-plugins.git --ref v1.2.0 --sub-dir disk-usage")
    .action(run(async (source: string, flags: PluginCommands.InstallFlags) => (await plugin()).installCommand(source, flags)));

  withConfigFlags(cli.command("plugin remove <id>", "Uninstall a plugin"))
    .example("  stavily plugin remove my-plugin")
    .action(run(async (id: string, flags: PluginFlags) => (await plugin()).removeCommand(id, flags)));

  withConfigFlags(cli.command("plugin rollback <id>", "Make the previous installed version of a plugin current again"))
    .example("  stavily plugin rollback my-plugin")
    .action(run(async (id: string, flags: PluginFlags) => (await plugin()).rollbackCommand(id, flags)));

  // --root and --platform stage the files of another machine: for packages and tests.
  const serviceTarget = (command: ReturnType<typeof cli.command>) =>
    command
      .option("--root <dir>", "Write and read everything under <dir> instead of / (packaging, tests)")
      .option("--platform <os>", "linux (systemd), darwin (launchd) or win32 (sc.exe) instead of this OS (packaging, tests)");

  serviceTarget(
    cli
      .command("service install <type>", "Install a sensor or action agent as a system service; several agents per machine side by side")
      .option("--id <id>", "Agent id: names the service, config, home and health port (required)")
      .option("--config <file>", "Config to install (validated; agent.type and agent.id must match); default: a minimal generated one")
      .option("--user <user>", "User the service runs as", { default: "stavily" })
      .option("--binary <path>", "The stavily executable the service runs (default /usr/local/bin/stavily)")
      .option("--force", "Write over an installed agent of the same type and id (its installed config is kept)")
      .option("--dry-run", "Print what would be written; write nothing"),
  )
    .example("  stavily service install sensor --id web-01")
    .example("  stavily service install action --id ops --config ./action.yaml --dry-run")
    .action(run(async (type: string, flags: ServiceFlags) => (await service()).installCommand(type, flags)));

  serviceTarget(
    cli
      .command("service uninstall <type>", "Remove an installed agent's service files; --purge also removes its config and home")
      .option("--id <id>", "Agent id (required)")
      .option("--purge", "Also remove the config, its .env file and the agent home (spool, audit log)")
      .option("--force", "Remove the files even though the agent is running"),
  )
    .example("  stavily service uninstall sensor --id web-01")
    .action(run(async (type: string, flags: ServiceFlags) => (await service()).uninstallCommand(type, flags)));

  serviceTarget(cli.command("service list", "List the agents installed on this machine, with their config, home and service state").option("--json", "Print as JSON"))
    .example("  stavily service list")
    .action(run(async (flags: ServiceFlags) => (await service()).listCommand(flags)));

  serviceTarget(cli.command("service status <type>", "Show an installed agent's service state and its health endpoint's answer; exit 0 when it runs").option("--id <id>", "Agent id (required)"))
    .example("  stavily service status action --id ops")
    .action(run(async (type: string, flags: ServiceFlags) => (await service()).statusCommand(type, flags)));

  cli
    .command("orchestrator", "Run the reference orchestrator (embedded SQLite) for development, demos and tests")
    .option("--db <file>", "SQLite database file, or :memory: (default ./stavily-orchestrator.db)")
    .option("--listen <host:port>", "Address to listen on; port 0 picks a free one (default 127.0.0.1:8000)")
    .option("--tokens <file>", "YAML map of agent id to token")
    .option("--insecure-dev", "Accept any non-empty agent token (loopback only)")
    .option("--admin-token <token>", "Admin API token (default $STAVILY_ADMIN_TOKEN, else generated and printed)")
    .option("--lease <duration>", "Lease of a delivered instruction before it is delivered again (default 60s)")
    .option("--max-deliveries <n>", "Deliveries of an instruction before a lapsed lease fails it as undeliverable (default 10)")
    .option("--tls-cert <file>", "TLS certificate chain (PEM)")
    .option("--tls-key <file>", "TLS private key (PEM)")
    .option("--client-ca <file>", "Require client certificates from this CA (mutual TLS)")
    .example("  stavily orchestrator --insecure-dev")
    .example("  stavily orchestrator --db /var/lib/stavily/orchestrator.db --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem --tokens tokens.yaml")
    .action(run(async (flags: OrchestratorFlags) => (await import("./commands/orchestrator.ts")).orchestratorCommand(flags)));

  cli.option("--debug", "Print stack traces of errors");
  cli.help();
  cli.version(buildInfo().version);
  return cli;
}

let exitCode: number = EXIT.ok;

function run<A extends unknown[]>(handler: (...args: A) => number | Promise<number>): Handler {
  return async (...args: A) => {
    exitCode = await handler(...args);
    return exitCode;
  };
}

/** cac matches one word; `config validate` becomes one argument so it can have its own help. */
function joinSubcommand(argv: string[], names: Set<string>): string[] {
  const pair = `${argv[2]} ${argv[3]}`;
  return names.has(pair) ? [argv[0]!, argv[1]!, pair, ...argv.slice(4)] : argv;
}

async function main(argv: string[]): Promise<number> {
  // Hidden (not in --help): the process a bun plugin runs in at sandbox levels process and strict.
  if (argv[2] === "plugin-host" && argv.length === 3) return (await import("./commands/plugin-host.ts")).pluginHostCommand();
  const cli = buildCli();
  const names = new Set(cli.commands.map((command) => command.name));
  const groups = new Set([...names].filter((name) => name.includes(" ")).map((name) => name.split(" ")[0]!));
  const args = joinSubcommand(argv, names);
  const first = args[2];
  if (first && groups.has(first)) {
    // A group without a known subcommand: list its subcommands.
    const subcommands = [...names].filter((name) => name.startsWith(`${first} `));
    const wantsHelp = args.includes("--help") || args.includes("-h");
    const out = wantsHelp ? console.log : console.error;
    if (!wantsHelp && args[3]) out(`stavily: unknown command "${first} ${args[3]}"`);
    out(`Usage: stavily ${first} <command> [options]\n\nCommands:\n${subcommands.map((name) => `  stavily ${name}`).join("\n")}\n\nRun "stavily ${first} <command> --help" for its options.`);
    return wantsHelp ? EXIT.ok : EXIT.usage;
  }
  const parsed = cli.parse(args, { run: false });
  if (parsed.options.help || parsed.options.version) return EXIT.ok;
  if (!cli.matchedCommand) {
    if (first) console.error(`stavily: unknown command "${first}"; run "stavily --help" for the list`);
    else cli.outputHelp();
    return EXIT.usage;
  }
  await cli.runMatchedCommand();
  return exitCode;
}

function report(error: unknown, debug: boolean): number {
  if (error instanceof StavilyError) {
    console.error(redactText(`stavily: ${error.message}`));
    for (const line of error.details) console.error(redactText(`  ${line}`));
    if (debug && error.stack) console.error(redactText(error.stack));
    return error.exitCode;
  }
  // cac's own errors (unknown option, missing value) are usage errors.
  if (error instanceof Error && error.name === "CACError") {
    console.error(`stavily: ${error.message}; run "stavily --help"`);
    return EXIT.usage;
  }
  console.error(redactText(`stavily: ${errorMessage(error)}`));
  if (debug && error instanceof Error && error.stack) console.error(redactText(error.stack));
  return EXIT.failure;
}

const argv = process.argv;
try {
  process.exitCode = await main(argv);
} catch (error) {
  process.exitCode = report(error, argv.includes("--debug"));
}
