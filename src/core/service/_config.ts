/**
 * The config an installed agent reads: the operator's file (copied, with agent.type, agent.id and
 * agent.base_dir added when it leaves them to defaults that would differ under the service's user),
 * or a minimal generated one. Either is validated with the config loader as the service will see it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Document, parseDocument } from "yaml";
import { loadConfig, type Config } from "../config/index.ts";
import { errorMessage, StavilyError, usageError } from "../errors.ts";
import { type InstanceRef, type Layout } from "./_layout.ts";

export interface InstanceConfig {
  /** What goes into `<configDir>/<type>-<id>.yaml`. */
  text: string;
  /** The effective config the agent will run with. */
  config: Config;
}

/** First health port of generated configs; the next free one above it is taken. */
const FIRST_PORT = { sensor: 9101, action: 9201 } as const;

/**
 * The service's environment has none of the installer's STAVILY_* variables (they would override
 * keys of the file), and its working directory is /.
 */
function serviceLoadOptions(layout: Layout) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("STAVILY_")));
  return { env, cwd: layout.platform === "win32" ? process.cwd() : "/", platform: layout.platform };
}

export function loadInstalledConfig(file: string, layout: Layout): Config {
  return loadConfig({ configFile: file, ...serviceLoadOptions(layout) }).config;
}

export function configFromFile(file: string, ref: InstanceRef, layout: Layout): InstanceConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw usageError("service", `cannot read --config ${file}: ${errorMessage(error)}`, { cause: error });
  }
  const doc = parseDocument(text);
  const set = (key: string, value: string) => (doc.errors.length === 0 && !doc.hasIn(["agent", key]) ? [[key, value] as const] : []);
  const missing = [...set("type", ref.type), ...set("id", ref.id), ...set("base_dir", layout.baseDir)];
  const { config } = loadConfig({ configFile: file, set: missing.map(([key, value]) => `agent.${key}=${value}`), ...serviceLoadOptions(layout) });
  if (config.agent.type !== ref.type) {
    throw usageError("service", `${file} is the config of a ${config.agent.type} agent (agent.type), not a ${ref.type} agent`);
  }
  if (config.agent.id !== ref.id) {
    throw usageError("service", `${file} is the config of agent "${config.agent.id}" (agent.id), but --id is "${ref.id}"`);
  }
  if (missing.length === 0) return { text, config };
  const agent = doc.get("agent");
  // `agent:` with nothing under it parses as null; setIn needs a map there.
  if (agent === null || agent === undefined || (typeof agent !== "object")) doc.set("agent", doc.createNode({}));
  for (const [key, value] of missing) doc.setIn(["agent", key], value);
  return { text: doc.toString(), config };
}

export function generatedConfig(ref: InstanceRef, layout: Layout, usedPorts: ReadonlySet<number>): InstanceConfig {
  let port: number = FIRST_PORT[ref.type];
  while (usedPorts.has(port)) port += 1;
  const doc = new Document({ agent: { type: ref.type, id: ref.id, base_dir: layout.baseDir }, health: { port } });
  doc.commentBefore = [
    ` Stavily ${ref.type} agent "${ref.id}", written by \`stavily service install\`.`,
    " Every key, its default and its environment variable: docs/configuration.md. The orchestrator",
    " is api.base_url; the token goes in security.auth.token_file (relative to <home>/config/certificates)",
    ` or in ${ref.type}-${ref.id}.env beside this file as STAVILY_AGENT_TOKEN=….`,
    " health.port is this agent's alone: other agents on the machine have their own.",
  ].join("\n");
  const text = doc.toString();
  return { text, config: validateText(text, layout) };
}

function validateText(text: string, layout: Layout): Config {
  const dir = mkdtempSync(join(tmpdir(), "stavily-service-"));
  try {
    const file = join(dir, "generated.yaml");
    writeFileSync(file, text);
    return loadInstalledConfig(file, layout);
  } catch (error) {
    throw new StavilyError("service", `the generated config is not valid (a bug): ${errorMessage(error)}`, { cause: error });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
