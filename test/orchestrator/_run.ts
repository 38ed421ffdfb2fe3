/** Runs orchestratorCommand in its own process, as `stavily orchestrator` will: flags as one JSON argument. */
import { orchestratorCommand } from "../../src/commands/orchestrator.ts";
import { errorMessage, StavilyError } from "../../src/core/errors.ts";

try {
  process.exitCode = await orchestratorCommand(JSON.parse(process.argv[2] ?? "{}"));
} catch (error) {
  console.error(`stavily: ${errorMessage(error)}`);
  if (error instanceof StavilyError) for (const line of error.details) console.error(`  ${line}`);
  process.exitCode = error instanceof StavilyError ? error.exitCode : 1;
}
