/**
 * `stavily plugin list`: every plugin this agent can run (built in, installed, folders in
 * plugins.directory) and the ones that failed to load. A failure is listed, not fatal: `validate`
 * is the command that fails on a broken plugin.
 */
import { EXIT } from "../../core/errors.ts";
import { loadCatalog, type CatalogEntry } from "../../core/plugin/catalog.ts";
import { loadAgentConfig, type PluginFlags } from "./_common.ts";

export async function listCommand(flags: PluginFlags): Promise<number> {
  const { config } = loadAgentConfig(flags);
  const directory = config.plugins.directory;
  const catalog = await loadCatalog({ directory, allowed: config.plugins.allowed });
  const plugins = [...catalog.entries.values()].sort((a, b) => a.manifest.id.localeCompare(b.manifest.id)).map(row);
  const failures = catalog.failures.map((failure) => ({ dir: failure.dir, error: failure.error.message, details: failure.error.details }));
  if (flags.json) {
    console.log(JSON.stringify({ directory, plugins, failures }, null, 2));
    return EXIT.ok;
  }
  const header = ["ID", "VERSION", "TYPE", "RUNTIME", "SOURCE", "PREVIOUS", "INSTALLED"];
  const rows = plugins.map((p) => [p.id, p.version, p.type, p.runtime, p.source, p.previous ?? "-", p.installed_at ?? "-"]);
  console.log(table([header, ...rows]));
  console.log(`\nplugins directory: ${directory}`);
  if (failures.length > 0) {
    console.log(`\nnot loaded (${failures.length}):`);
    for (const failure of failures) {
      console.log(`  ${failure.dir}: ${failure.error}`);
      for (const line of failure.details) console.log(`    ${line}`);
    }
  }
  return EXIT.ok;
}

function row(entry: CatalogEntry) {
  const { manifest, installed } = entry;
  return {
    id: manifest.id,
    version: manifest.version,
    type: manifest.type,
    runtime: manifest.runtime.type,
    source: entry.source,
    description: manifest.description,
    dir: manifest.dir,
    ...(installed && { previous: installed.previous, installed_at: installed.installed_at, installed_from: installed.source }),
  };
}

/** Columns padded to their widest cell; the last one is not padded. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((cells) => (cells[column] ?? "").length)));
  return rows.map((cells) => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!))).join("  ")).join("\n");
}
