#!/usr/bin/env bun
/**
 * The one entrypoint of the `stavily` executable: cac wiring only. Each command returns its exit
 * code; one catch below turns errors into one clear line each and exit code 1 or 2.
 */
import { cac } from "cac";
import { versionCommand } from "./commands/version.ts";
import { printCommand, schemaCommand, validateCommand, type ConfigFlags } from "./commands/config.ts";
import { homeInitCommand } from "./commands/home.ts";
import { actionCommand } from "./commands/action.ts";
import { orchestratorCommand, type OrchestratorFlags } from "./commands/orchestrator.ts";
import { buildInfo } from "./core/build-info.ts";
import { EXIT, StavilyError, errorMessage } from "./core/errors.ts";
import { redactText } from "./core/redact.ts";

type Handler = (...args: any[]) => number | Promise<number>;

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
    .action(run((options: { json?: boolean }) => versionCommand(options)));

  withConfigFlags(cli.command("config validate", "Check a config file; print every problem with file:line:column"))
    .example("  stavily config validate -c /etc/stavily/action.yaml")
    .example("  stavily config validate --type sensor --set api.base_url=https://orchestrator.example.com")
    .action(run((flags: ConfigFlags) => validateCommand(flags)));

  withConfigFlags(cli.command("config print", "Print the effective config (file < env < flags), secrets redacted"))
    .option("--format <format>", "yaml or json", { default: "yaml" })
    .example("  STAVILY_API_BASE_URL=https://orch.example.com stavily config print -c stavily.yaml")
    .action(run((flags: ConfigFlags) => printCommand(flags)));

  cli
    .command("config schema", "Print the JSON Schema of the config file, for editor completion")
    .example("  stavily config schema > stavily.schema.json")
    .action(run(() => schemaCommand()));

  withConfigFlags(cli.command("home init", "Create the agent home (refused while an agent with the same id runs)"))
    .example("  stavily home init -c /etc/stavily/sensor.yaml")
    .action(run((flags: ConfigFlags) => homeInitCommand(flags)));

  cli
    .command("action", "Run the action agent: take instructions from the orchestrator and carry them out")
    .option("-c, --config <file>", "Config file (default $STAVILY_CONFIG, ./stavily.yaml, /etc/stavily/action.yaml)")
    .option("--set <key=value>", "Override one config key, e.g. --set api.base_url=https://orch.example.com (repeatable)")
    .example("  stavily action -c /etc/stavily/action.yaml")
    .example("  STAVILY_AGENT_TOKEN=… stavily action --set api.base_url=http://127.0.0.1:8000")
    .action(run((flags: ConfigFlags) => actionCommand(flags)));

  cli
    .command("orchestrator", "Run the reference orchestrator (embedded SQLite) for development, demos and tests")
    .option("--db <file>", "SQLite database file, or :memory: (default ./stavily-orchestrator.db)")
    .option("--listen <host:port>", "Address to listen on; port 0 picks a free one (default 127.0.0.1:8000)")
    .option("--tokens <file>", "YAML map of agent id to token")
    .option("--insecure-dev", "Accept any non-empty agent token (loopback only)")
    .option("--admin-token <token>", "Admin API token (default $STAVILY_ADMIN_TOKEN, else generated and printed)")
    .option("--lease <duration>", "Lease of a delivered instruction before it is delivered again (default 60s)")
    .option("--tls-cert <file>", "TLS certificate chain (PEM)")
    .option("--tls-key <file>", "TLS private key (PEM)")
    .option("--client-ca <file>", "Require client certificates from this CA (mutual TLS)")
    .example("  stavily orchestrator --insecure-dev")
    .example("  stavily orchestrator --db /var/lib/stavily/orchestrator.db --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem --tokens tokens.yaml")
    .action(run((flags: OrchestratorFlags) => orchestratorCommand(flags)));

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
