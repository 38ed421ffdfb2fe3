/**
 * Chaos scenario 7: bad input at every boundary while a sensor and an action agent do real work.
 *
 * The agents talk to the real `stavily orchestrator` through a proxy in this file that can corrupt
 * chosen answers or answer a poll with an instruction of its own. While events flow (the `burst`
 * trigger) and good instructions run (`shell-command` appending a mark to a file), each round sends:
 *
 *   (a) broken configs by SIGHUP (invalid YAML, a wrong type, an unknown key) to both agents;
 *   (b) broken manifests dropped into the action agent's plugins directory, and plugin_install
 *       instructions pointing at malicious archives (traversal, symlink, oversize, bad checksum…);
 *   (c) instructions the admin API refuses, injected into poll answers by the proxy and (one) written
 *       straight into the orchestrator's SQLite, and well-formed but wrong ones (unknown plugin, bad
 *       parameters, parameters too big) through the admin API;
 *   (d) corrupted orchestrator answers to heartbeats, polls, updates, results and event batches.
 *
 * Each bad input must produce its own clear message; at the end every event is stored exactly once,
 * every good instruction completed with its effect carried out once, and both agents still serve.
 */
import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzip, sha256, tar, zip } from "../../src/core/plugin/install/_testkit.ts";
import { startOrchestrator, writeAgentConfig } from "../support/agents.ts";
import { hostBinary } from "../support/binary.ts";
import { account, duplicates, scale, scenarioTimeout } from "../support/chaos.ts";
import { freePort, killAll, startProcess, waitUntil, type TestProcess } from "../support/process.ts";

const ADMIN = "bad-input-admin-token-0123456789";
const ACTION = "bad-input-action";
const SENSOR = "bad-input-sensor";
const ROUNDS = scale({ short: 1, full: 4 });
/** Roughly how long one round takes; the scenario's timeout follows from it. */
const ROUND_MS = 25_000;
const FINAL = ["completed", "failed", "timeout", "cancelled"];
const NINE_MIB = 9 * 1024 * 1024;

const dir = mkdtempSync(join(tmpdir(), "stavily-chaos-bad-input-"));
afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

// ---- the proxy in front of the orchestrator -------------------------------------------------------

type Route = "heartbeat" | "poll" | "update" | "result" | "events" | "register";
type Garbage = "too_large" | "not_json" | "wrong_types" | "html" | "array";
const GARBAGE: Garbage[] = ["too_large", "not_json", "wrong_types", "html", "array"];

/** One planned misbehaviour: the answer to the next matching call is garbage, or (polls) an instruction of ours. */
type Fault = { agent: string; route: Route; garbage: Garbage } | { agent: string; route: "poll"; inject: unknown };

function garbage(kind: Garbage): Response {
  const json = { "content-type": "application/json" };
  switch (kind) {
    case "too_large":
      return new Response(`{"padding":"${"x".repeat(NINE_MIB)}"}`, { headers: json });
    case "not_json":
      return new Response("{not json", { headers: json });
    case "wrong_types":
      return Response.json({ instruction: 5, status: [], cancel_instructions: "all", acknowledged: "yes", success: "maybe", accepted: "many", next_poll_interval: -1 });
    case "html":
      return new Response("<html><body>502 Bad Gateway</body></html>", { headers: { "content-type": "text/html" } });
    case "array":
      return Response.json([1, 2, 3]);
  }
}

function routeOf(method: string, pathname: string): { agent: string; route: Route } | undefined {
  const match = /^\/agents\/v1\/([^/]+)\/(heartbeat|register|events|instructions)(?:\/([^/]+)(\/result)?)?$/.exec(pathname);
  if (!match) return undefined;
  const [, agent, what, instruction, result] = match;
  if (what === "instructions") {
    if (result) return { agent: agent!, route: "result" };
    if (instruction) return method === "PUT" ? { agent: agent!, route: "update" } : undefined;
    return { agent: agent!, route: "poll" };
  }
  return { agent: agent!, route: what as Route };
}

function startProxy(upstream: string) {
  const faults: Fault[] = [];
  /** Answers each agent got that it cannot use (garbage, and injected instructions it refuses), by how the agent should classify them. */
  const unusable = new Map<string, { malformed: number; too_large: number }>();
  const count = (agent: string, kind: "malformed" | "too_large") => {
    const counts = unusable.get(agent) ?? { malformed: 0, too_large: 0 };
    counts[kind]++;
    unusable.set(agent, counts);
  };
  /** Polls answered by the orchestrator and passed on untouched, per agent. */
  const okPolls = new Map<string, number>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    // Long polls are held for 30 s.
    idleTimeout: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const call = routeOf(request.method, url.pathname);
      const at = call ? faults.findIndex((fault) => fault.agent === call.agent && fault.route === call.route) : -1;
      const fault = at >= 0 ? faults.splice(at, 1)[0] : undefined;
      if (fault && "inject" in fault) {
        // Not forwarded: no instruction of the orchestrator's is taken by this poll.
        const answer = JSON.stringify({ instruction: fault.inject, status: "instruction_available", next_poll_interval: 0 });
        count(fault.agent, answer.length > NINE_MIB - 1024 ? "too_large" : "malformed");
        return new Response(answer, { headers: { "content-type": "application/json" } });
      }
      const headers = new Headers(request.headers);
      headers.delete("host");
      const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
      let answer: Response;
      try {
        answer = await fetch(`${upstream}${url.pathname}${url.search}`, { method: request.method, headers, body, signal: request.signal });
      } catch {
        return new Response("upstream unreachable", { status: 502 });
      }
      const bytes = await answer.arrayBuffer();
      if (fault && "garbage" in fault) {
        // The orchestrator did the work (stored the result, the events, delivered the instruction); the agent never hears it.
        count(fault.agent, fault.garbage === "too_large" ? "too_large" : "malformed");
        return garbage(fault.garbage);
      }
      if (call?.route === "poll" && answer.ok) okPolls.set(call.agent, (okPolls.get(call.agent) ?? 0) + 1);
      const type = answer.headers.get("content-type");
      return new Response(answer.status === 204 ? null : bytes, { status: answer.status, headers: type ? { "content-type": type } : {} });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    plan: (...more: Fault[]) => void faults.push(...more),
    pending: () => faults.length,
    unusable: (agent: string) => ({ malformed: 0, too_large: 0, ...unusable.get(agent) }),
    okPolls: (agent: string) => okPolls.get(agent) ?? 0,
    stop: () => server.stop(true),
  };
}

// ---- archives for plugin_install ----------------------------------------------------------------------

const goodManifest = (id: string, version: string) =>
  ["plugin:", `  id: ${id}`, `  name: ${id}`, `  version: "${version}"`, "  type: action", "  runtime:", "    type: bun", "    entry_point: index.ts", ""].join("\n");
const goodEntry = 'import { defineAction } from "stavily/sdk";\nexport default defineAction({ execute: () => ({ status: "completed", data: { tally: true } }) });\n';

/** A tar header declaring an entry far over the 512 MiB unpacked cap, and nothing after it. */
function declaredHuge(): Uint8Array {
  const block = tar([{ name: "evil/huge.bin", data: "" }]).slice(0, 512);
  const put = (text: string, at: number) => block.set(new TextEncoder().encode(text), at);
  put(`${(600 * 1024 * 1024).toString(8).padStart(11, "0")}\0`, 124);
  block.fill(0x20, 148, 156);
  const sum = block.reduce((a, b) => a + b, 0);
  put(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return gzip(block);
}

interface ArchiveCase {
  name: string;
  path: string;
  /** sha256 to put in the instruction (the archive's own unless the case is about it). */
  sha256?: string | null;
  url?: string;
  expect: RegExp;
  /** What error_details.problems must hold, one problem a line. */
  problems?: RegExp;
}

function startArchiveServer() {
  const good = gzip(tar([{ name: "evil/plugin.yaml", data: goodManifest("evil", "1.0.0") }, { name: "evil/index.ts", data: goodEntry }]));
  const bodies: Record<string, Uint8Array> = {
    "/traversal.tar.gz": gzip(tar([{ name: "evil/plugin.yaml", data: goodManifest("evil", "1.0.0") }, { name: "evil/../../../escaped.txt", data: "pwned" }])),
    "/symlink.tar.gz": gzip(tar([{ name: "evil/plugin.yaml", data: goodManifest("evil", "1.0.0") }, { name: "evil/index.ts", type: "2", link: "/etc/passwd" }])),
    "/declared-huge.tar.gz": declaredHuge(),
    "/good-evil.tar.gz": good,
    "/not-an-archive.tar.gz": new TextEncoder().encode("this is not an archive at all, just text pretending to be one"),
    "/bad-manifest.tar.gz": gzip(tar([{ name: "evil/plugin.yaml", data: "plugin:\n  id: evil\n  version: @1.0\n" }, { name: "evil/index.ts", data: goodEntry }])),
    "/symlink.zip": zip([{ name: "evil/plugin.yaml", data: goodManifest("evil", "1.0.0") }, { name: "evil/index.ts", data: "../../../../etc/passwd", mode: 0o120777 }]),
    "/tally.tar.gz": gzip(tar([{ name: "tally/plugin.yaml", data: goodManifest("tally", "1.0.0") }, { name: "tally/index.ts", data: goodEntry }])),
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request) => {
      const body = bodies[new URL(request.url).pathname];
      return body ? new Response(body as Uint8Array<ArrayBuffer>) : new Response("not found", { status: 404 });
    },
  });
  // An answer that declares 200 MiB: refused from its header, before a byte of body is read.
  const oversize = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket) {
        // Headers and a first bytes of body, then nothing: a reader that trusted it would wait for 200 MiB.
        socket.write("HTTP/1.1 200 OK\r\ncontent-type: application/gzip\r\ncontent-length: 209715200\r\n\r\n\x1f\x8b");
      },
    },
  });
  const base = `http://127.0.0.1:${server.port}`;
  const hash = (path: string) => sha256(bodies[path]!);
  const cases: ArchiveCase[] = [
    { name: "path traversal", path: "/traversal.tar.gz", expect: /entry "evil\/\.\.\/\.\.\/\.\.\/escaped\.txt": refused: path traversal \("\.\."\)/ },
    { name: "symlink", path: "/symlink.tar.gz", expect: /entry "evil\/index\.ts": refused: symbolic link to "\/etc\/passwd"; plugins may contain only regular files and directories/ },
    { name: "zip symlink", path: "/symlink.zip", expect: /entry "evil\/index\.ts": refused: symbolic link; plugins may contain only regular files and directories/ },
    { name: "declared size over the cap", path: "/declared-huge.tar.gz", expect: /entry "evil\/huge\.bin": refused: the plugin would exceed 536870912 bytes uncompressed/ },
    { name: "oversize download", path: "/oversize.tar.gz", url: `http://127.0.0.1:${oversize.port}/oversize.tar.gz`, sha256: "0".repeat(64), expect: /is larger than 104857600 bytes; refused/ },
    { name: "bad checksum", path: "/good-evil.tar.gz", sha256: "a".repeat(64), expect: new RegExp(`SHA-256 mismatch \\(expected ${"a".repeat(64)}, got ${hash("/good-evil.tar.gz")}\\); refused`) },
    { name: "no checksum", path: "/good-evil.tar.gz", sha256: null, expect: /a sha256 is required to install from a URL; refused/ },
    { name: "plain http to another host", path: "/good-evil.tar.gz", url: "http://plugins.example.com/evil.tar.gz", expect: /must be an https URL \(plain http only to a loopback address\)/ },
    { name: "not an archive", path: "/not-an-archive.tar.gz", expect: /is not a \.tar\.gz, \.tgz, \.tar or \.zip archive/ },
    { name: "broken manifest inside", path: "/bad-manifest.tar.gz", expect: /: evil\/plugin\.yaml: 1 problem$/, problems: /\/bad-manifest\.tar\.gz: evil\/plugin\.yaml:3:\d+ invalid YAML: Plain value cannot start with reserved character @/ },
  ];
  return {
    cases: cases.map((item) => ({ ...item, url: item.url ?? `${base}${item.path}`, sha256: item.sha256 === undefined ? hash(item.path) : item.sha256 })),
    tally: { archive_url: `${base}/tally.tar.gz`, sha256: hash("/tally.tar.gz"), version: "1.0.0" },
    stop() {
      server.stop(true);
      oversize.stop(true);
    },
  };
}

// ---- the scene: orchestrator, proxy, archive server, and the two agents behind the proxy ------------------

type AgentType = "action" | "sensor";
const AGENT_IDS: Record<AgentType, string> = { action: ACTION, sensor: SENSOR };

interface Scene {
  orchestratorDb: string;
  orchestrator: TestProcess;
  orchestratorUrl: string;
  proxy: ReturnType<typeof startProxy>;
  archives: ReturnType<typeof startArchiveServer>;
  agents: Record<AgentType, TestProcess>;
  /** Each agent's config file, the settings it is written from, and the port of its health server. */
  files: Record<AgentType, string>;
  configs: Record<AgentType, Record<string, Record<string, unknown>>>;
  health: Record<AgentType, number>;
  pluginsDirs: Record<AgentType, string>;
  /** The file each good instruction appends its mark to: its observable effect. */
  marks: string;
  /** Every bad input sent, with the message it produced (asserted as it happens). */
  barrage: string[];
  /** Instructions written straight into the orchestrator's database; the agent refuses every delivery. */
  injectedRows: string[];
}

async function startScene(binary: string): Promise<Scene> {
  const orchestratorDb = join(dir, "orchestrator.db");
  // A short lease: an instruction whose delivery answer the proxy corrupted comes back within seconds.
  const orchestrator = await startOrchestrator(binary, { db: orchestratorDb, adminToken: ADMIN, lease: "3s" });
  const proxy = startProxy(orchestrator.url);
  const archives = startArchiveServer();
  // The sensor's plugins directory holds its own copy of the burst trigger.
  const pluginsDirs = { action: join(dir, "action-plugins"), sensor: join(dir, "sensor-plugins") };
  mkdirSync(pluginsDirs.action, { recursive: true });
  cpSync(join(import.meta.dir, "..", "e2e", "fixtures", "plugins", "burst"), join(pluginsDirs.sensor, "burst"), { recursive: true });
  const marks = join(dir, "marks.txt");
  writeFileSync(marks, "");
  const health = { action: freePort(), sensor: freePort() };
  // The default 10 calls/s would let the good work pile up behind the three calls each instruction makes.
  const api = { retry_delay: "100ms", rate_limit_rps: 200 };
  const configs: Scene["configs"] = {
    action: {
      agent: { poll_interval: "10m" },
      api,
      action: { max_concurrent_tasks: 4 },
      // watch_changes: the plugins directory is read again every 2 s, so dropped manifests are noticed.
      plugins: { directory: pluginsDirs.action, watch_changes: true, config: { "shell-command": { allowed_commands: ["sh"] } } },
      health: { port: health.action },
      logging: { level: "info" },
    },
    sensor: {
      agent: { poll_interval: "10m" },
      api,
      plugins: { directory: pluginsDirs.sensor },
      sensor: { batch_size: 50, flush_interval: "200ms", triggers: [{ plugin: "burst", interval: "100ms", config: { per_run: 10, total: 1_000_000_000 } }] },
      health: { port: health.sensor },
      logging: { level: "info" },
    },
  };
  const files = { action: writeConfig({ configs, proxy }, "action"), sensor: writeConfig({ configs, proxy }, "sensor") };
  const agents = { action: startProcess([binary, "action", "-c", files.action]), sensor: startProcess([binary, "sensor", "-c", files.sensor]) };
  return { orchestratorDb, orchestrator: orchestrator.process, orchestratorUrl: orchestrator.url, proxy, archives, agents, files, configs, health, pluginsDirs, marks, barrage: [], injectedRows: [] };
}

function writeConfig(scene: Pick<Scene, "configs" | "proxy">, type: AgentType): string {
  return writeAgentConfig(dir, { type, id: AGENT_IDS[type], baseDir: join(dir, "homes"), url: scene.proxy.url, extra: scene.configs[type] });
}

/** What the agent's /status says: the config it runs with, among the rest. */
async function status(scene: Scene, type: AgentType): Promise<any> {
  return (await fetch(`http://127.0.0.1:${scene.health[type]}/status`)).json();
}

async function admin(scene: Scene, path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${scene.orchestratorUrl}/api/v1${path}`, {
    ...init,
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json", ...init.headers },
  });
  return { status: response.status, body: await response.json() };
}

async function create(scene: Scene, body: Record<string, unknown>): Promise<string> {
  const created = await admin(scene, "/instructions", { method: "POST", body: JSON.stringify({ instruction_type: "execute", max_retries: 0, timeout_seconds: 30, ...body }) });
  if (created.status !== 201 && created.status !== 200) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body.id;
}

function ended(scene: Scene, id: string, timeoutMs = 30_000): Promise<any> {
  return waitUntil(
    async () => {
      const { body } = await admin(scene, `/instructions/${id}`);
      return FINAL.includes(body.status) ? body : undefined;
    },
    `instruction ${id} to end`,
    timeoutMs,
  );
}

// ---- the barrage, one kind of bad input at a time ---------------------------------------------------------

/** (a) Broken configs by SIGHUP: refused with file:line:column and the field; the running config stays. */
async function brokenConfigs(scene: Scene, round: number): Promise<void> {
  // Each mistake is on the line holding `at`; the refusal must name that line.
  const broken: Array<{ name: string; text: (good: string) => string; at: string; expect: string }> = [
    { name: "invalid YAML", text: (text) => text.replace("heartbeat: 1s", "heartbeat: @1s"), at: "heartbeat: @1s", expect: "invalid YAML: Plain value cannot start with reserved character @" },
    { name: "wrong type", text: (text) => text.replace("heartbeat: 1s", "heartbeat: sometimes"), at: "heartbeat: sometimes", expect: 'agent.heartbeat: expected a duration like "30s", "5m", "1h30m" or a number of seconds, got "sometimes"' },
    { name: "unknown key", text: (text) => text.replace("retry_delay: 100ms", "retry_delay: 100ms\n  retry_attemps: 5"), at: "retry_attemps: 5", expect: 'api.retry_attemps: unknown key (did you mean "retry_attempts"?)' },
  ];
  for (const type of ["action", "sensor"] as const) {
    const agent = scene.agents[type];
    const running = (await status(scene, type)).agent.environment;
    // This round's good config names the round; the broken ones say "refused", which must never be taken.
    scene.configs[type].agent = { ...scene.configs[type].agent, environment: `round-${round}` };
    const good = readFileSync(writeConfig(scene, type), "utf8");
    for (const bad of broken) {
      const refused = good.replace(`environment: round-${round}`, "environment: refused");
      const text = bad.text(refused);
      expect(text).not.toBe(refused);
      writeFileSync(scene.files[type], text);
      const from = agent.output().length;
      agent.kill("SIGHUP");
      const line = text.split("\n").findIndex((row) => row.includes(bad.at)) + 1;
      const pattern = new RegExp(`config reload refused; keeping the running config[\\s\\S]*?${escape(`${scene.files[type]}:${line}:`)}\\d+ ${escape(bad.expect)}`);
      const seen = await waitForNew(agent, from, pattern, `${type}: ${bad.name} refused`);
      scene.barrage.push(`${type} config, ${bad.name}: ${seen[0].split("\n").at(-1)!.trim()}`);
      expect((await status(scene, type)).agent.environment).toBe(running);
    }
    writeFileSync(scene.files[type], good);
    const from = agent.output().length;
    agent.kill("SIGHUP");
    await waitForNew(agent, from, /config reloaded/, `${type}: the good config reloaded`);
    expect((await status(scene, type)).agent.environment).toBe(`round-${round}`);
  }
}

/** (b) Broken manifests dropped into the plugins directory: each reported with its file:line, none loaded. */
async function brokenManifests(scene: Scene): Promise<void> {
  const dropped: Array<{ name: string; files: Record<string, string>; link?: [string, string]; expect: RegExp }> = [
    { name: "bad-yaml", files: { "plugin.yaml": "plugin:\n  id: bad-yaml\n  version: @1.0\n" }, expect: /bad-yaml\/plugin\.yaml:3:\d+ invalid YAML: Plain value cannot start with reserved character @/ },
    {
      name: "bad-type",
      files: { "plugin.yaml": goodManifest("bad-type", "1.0.0").replace("type: action", "type: teapot"), "index.ts": goodEntry },
      expect: /bad-type\/plugin\.yaml:5:\d+ plugin\.type: expected one of[^\n]+got "teapot"/,
    },
    {
      name: "escape",
      files: { "plugin.yaml": goodManifest("escape", "1.0.0").replace("entry_point: index.ts", "entry_point: ../../../../etc/passwd") },
      expect: /escape\/plugin\.yaml:8:\d+ plugin\.runtime\.entry_point: expected the entry point: a relative path inside the plugin directory, got "\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd"/,
    },
    {
      name: "link-out",
      files: { "plugin.yaml": goodManifest("link-out", "1.0.0") },
      link: ["/etc/hostname", "index.ts"],
      expect: /link-out\/plugin\.yaml:8:\d+ plugin\.runtime\.entry_point: entry point "index\.ts" resolves to \/etc\/hostname, outside the plugin directory/,
    },
  ];
  const { action } = scene.agents;
  const from = action.output().length;
  for (const plugin of dropped) {
    const folder = join(scene.pluginsDirs.action, plugin.name);
    mkdirSync(folder, { recursive: true });
    for (const [name, text] of Object.entries(plugin.files)) writeFileSync(join(folder, name), text);
    if (plugin.link) symlinkSync(plugin.link[0], join(folder, plugin.link[1]));
  }
  for (const plugin of dropped) {
    const seen = await waitForNew(action, from, new RegExp(`plugin not loaded[\\s\\S]*?${plugin.expect.source}`), `manifest ${plugin.name} reported`);
    scene.barrage.push(`manifest ${plugin.name}: ${seen[0].split("\n").at(-1)!.trim()}`);
  }
  for (const plugin of dropped) {
    const done = await ended(scene, await create(scene, { agent_id: ACTION, plugin_id: plugin.name }));
    expect(done.status).toBe("failed");
    expect(done.error_message).toContain(`plugin "${plugin.name}" is not installed on this agent`);
  }
  for (const plugin of dropped) rmSync(join(scene.pluginsDirs.action, plugin.name), { recursive: true, force: true });
}

/** (b) plugin_install pointing at broken or malicious archives, to both agents: a failed result with the reason, nothing installed. */
async function maliciousArchives(scene: Scene): Promise<void> {
  const nothingInstalled = () => {
    for (const pluginsDir of Object.values(scene.pluginsDirs)) {
      expect(existsSync(join(pluginsDir, "evil"))).toBe(false);
      expect(existsSync(join(pluginsDir, ".staging")) ? readdirSync(join(pluginsDir, ".staging")) : []).toEqual([]);
    }
    expect(existsSync(join(dir, "escaped.txt"))).toBe(false);
  };
  const install = (agentId: string, item: ArchiveCase) =>
    create(scene, {
      agent_id: agentId,
      plugin_id: "evil",
      instruction_type: "plugin_install",
      plugin_configuration: { source: { archive_url: item.url, ...(item.sha256 === null ? {} : { sha256: item.sha256 }) } },
    });
  const refusedAsExpected = (done: any, item: ArchiveCase, agentId: string) => {
    expect(done.status, `${item.name} on ${agentId}: ${JSON.stringify(done)}`).toBe("failed");
    expect(done.error_message).toMatch(item.expect);
    // Named as the instruction named it: the URL, never the staging copy deleted meanwhile.
    expect(done.error_message).toContain(item.url!);
    expect(done.error_message).not.toContain(".staging");
    if (item.problems) expect(done.error_details.problems.join("\n")).toMatch(item.problems);
    expect(done.error_details.reason).toBe("install_failed");
  };
  for (const item of scene.archives.cases) {
    for (const agentId of [ACTION, SENSOR]) {
      const done = await ended(scene, await install(agentId, item));
      refusedAsExpected(done, item, agentId);
      scene.barrage.push(`install ${item.name} (${agentId}): ${done.error_message}`);
    }
    nothingInstalled();
  }
  // Several at once to the sensor: all but the first ride on result acknowledgements (chaining); each is
  // delivered once, not again after its lease, and answered with its own reason.
  const together = scene.archives.cases.slice(0, 3);
  const ids = await Promise.all(together.map((item) => install(SENSOR, item)));
  const outcomes = await Promise.all(ids.map((id) => ended(scene, id)));
  outcomes.forEach((done, n) => {
    refusedAsExpected(done, together[n]!, SENSOR);
    expect({ id: done.id, delivery_count: done.delivery_count }).toEqual({ id: ids[n], delivery_count: 1 });
  });
  nothingInstalled();
}

/** (c) Instructions the admin API refuses: refused there, and refused by the agent when the proxy slips them into a poll. */
async function refusedInstructions(scene: Scene, round: number): Promise<void> {
  const refused: Array<{ name: string; instruction: Record<string, unknown>; admin?: RegExp; agent: RegExp }> = [
    { name: "missing plugin_id", instruction: { id: `bad-${round}-1`, instruction_type: "execute" }, admin: /plugin_id/, agent: /instruction\.plugin_id: Invalid key: Expected "plugin_id" but received undefined/ },
    {
      name: "wrong type",
      instruction: { id: `bad-${round}-2`, plugin_id: "echo", instruction_type: "execute", timeout_seconds: "soon" },
      admin: /timeout_seconds/,
      agent: /instruction\.timeout_seconds: Invalid type: Expected number but received "soon"/,
    },
    {
      name: "unknown instruction type",
      instruction: { id: `bad-${round}-3`, plugin_id: "echo", instruction_type: "explode" },
      admin: /instruction_type/,
      agent: /instruction\.instruction_type: Invalid type: Expected \("execute" \| [^\n]* but received "explode"/,
    },
    // The admin API makes the id itself; only a hostile orchestrator can send this one.
    { name: "id not a string", instruction: { id: 42, plugin_id: "echo", instruction_type: "execute" }, agent: /instruction\.id: Invalid type: Expected string but received 42/ },
    {
      name: "huge parameters",
      instruction: { id: `bad-${round}-5`, plugin_id: "echo", instruction_type: "execute", input_data: { blob: "x".repeat(NINE_MIB) } },
      admin: /"error":"too_large"/,
      agent: /answer larger than 8388608 bytes/,
    },
  ];
  const { action } = scene.agents;
  for (const bad of refused) {
    if (bad.admin) {
      const { id: _id, ...body } = bad.instruction;
      const answer = await admin(scene, "/instructions", { method: "POST", body: JSON.stringify({ agent_id: ACTION, ...body }) });
      expect(answer.status, `${bad.name}: ${JSON.stringify(answer.body)}`).toBeOneOf([400, 413]);
      expect(JSON.stringify(answer.body)).toMatch(bad.admin);
    }
    const from = action.output().length;
    scene.proxy.plan({ agent: ACTION, route: "poll", inject: bad.instruction });
    const seen = await waitForNew(action, from, new RegExp(`instruction poll failed[^\\n]*${bad.agent.source}`), `the agent refusing ${bad.name}`);
    scene.barrage.push(`instruction ${bad.name}: ${seen[0].replace(/^.*error="/, "")}`);
    // A poll that works in between, so the next refusal is failure 1 again (the poller logs failures 1, 2, 4, …).
    const ok = scene.proxy.okPolls(ACTION);
    await waitUntil(() => (scene.proxy.okPolls(ACTION) > ok ? true : undefined), "a good poll after the refusal");
  }
}

/**
 * (c) A row the admin API would refuse, written straight into the orchestrator's SQLite: the real orchestrator
 * delivers it, the agent refuses each delivery as malformed, and nothing else suffers. Nobody can answer it (the
 * agent does not take what it cannot parse, id included), so it comes back every lease until an admin cancels it
 * (here, after two deliveries) or, failing that, it has been delivered --max-deliveries times (10) and fails as
 * undeliverable.
 */
async function injectedRow(scene: Scene, round: number): Promise<void> {
  const id = `sqlite-bad-${round}`;
  const { action } = scene.agents;
  const from = action.output().length;
  const db = new Database(scene.orchestratorDb);
  try {
    db.run("PRAGMA busy_timeout = 5000");
    const now = Date.now();
    db.run(
      `INSERT INTO instructions (id, agent_id, plugin_id, instruction_type, plugin_configuration, input_data, timeout_seconds, max_retries,
         retry_count, priority, priority_rank, status, created_at, updated_at)
       VALUES (?, ?, 'echo', 'execute', '{}', '{}', 'soon', 0, 0, 'normal', 1, 'pending', ?, ?)`,
      [id, ACTION, now, now],
    );
  } finally {
    db.close();
  }
  const delivered = () => readDb(scene.orchestratorDb, (read) => read.query<{ n: number }, [string]>("SELECT delivery_count AS n FROM instructions WHERE id = ?").get(id)!.n);
  // Delivered, refused, and delivered again once its lease lapsed: refused every time, cleanly.
  await waitUntil(() => (delivered() >= 2 ? true : undefined), `${id} delivered twice`);
  const refusal = /the agent cannot use request="\[GET\] "\/agents\/v1\/bad-input-action\/instructions"" status=200 problem="instruction\.timeout_seconds: Invalid type: Expected number but received "soon"/g;
  const refusals = await waitUntil(() => {
    const seen = unescaped(action.output().slice(from)).match(refusal) ?? [];
    return seen.length >= 2 ? seen : undefined;
  }, `${id} refused at each delivery`);
  const cancelled = await admin(scene, `/instructions/${id}/cancel`, { method: "POST" });
  expect(cancelled.status).toBe(200);
  const done = await ended(scene, id);
  expect(done.status).toBe("cancelled");
  scene.injectedRows.push(id);
  scene.barrage.push(`SQLite row with timeout_seconds "soon": delivered ${delivered()} times, refused each time (${refusals[0]!.replace(/^.*problem="/, "")}), then cancelled`);
}

/** (c) Well-formed instructions neither agent can carry out: a failed result naming the problem. */
async function wrongInstructions(scene: Scene): Promise<void> {
  const wrong: Array<{ name: string; body: Record<string, unknown>; expect: RegExp }> = [
    { name: "unknown plugin", body: { plugin_id: "no-such-plugin" }, expect: /plugin "no-such-plugin" is not installed on this agent/ },
    { name: "a trigger as an action", body: { plugin_id: "cpu-monitor" }, expect: /plugin "cpu-monitor" is a trigger plugin, not an action/ },
    { name: "parameter of the wrong type", body: { plugin_id: "echo", input_data: { sleep_ms: "soon" } }, expect: /invalid parameter sleep_ms: expected a number of milliseconds/ },
    { name: "command not allowed", body: { plugin_id: "shell-command", input_data: { command: ["rm", "-rf", dir] } }, expect: /permission denied: command "rm" is blocked/ },
    { name: "command of the wrong type", body: { plugin_id: "shell-command", input_data: { command: 42 } }, expect: /invalid parameter command: expected a string or a list of strings/ },
    {
      name: "input over the plugin's cap",
      body: { plugin_id: "shell-command", input_data: { command: ["sh", "-c", "cat"], input: "y".repeat(3 * 1024 * 1024) } },
      expect: /invalid parameter input: 3145728 bytes is more than the agent's max_input_size/,
    },
    { name: "an action for the sensor", body: { agent_id: SENSOR, plugin_id: "echo" }, expect: /a sensor agent runs no actions; send execute instructions to an action agent/ },
  ];
  for (const bad of wrong) {
    const done = await ended(scene, await create(scene, { agent_id: ACTION, ...bad.body }));
    expect(done.status, `${bad.name}: ${JSON.stringify(done).slice(0, 2000)}`).toBe("failed");
    expect(done.error_message).toMatch(bad.expect);
    scene.barrage.push(`instruction ${bad.name}: ${done.error_message}`);
  }
  expect(existsSync(dir)).toBe(true);
}

/** (d) Corrupted answers to every kind of call; the orchestrator did the work each time, the agent never heard. */
async function corruptedAnswers(scene: Scene): Promise<void> {
  const routes: Array<[string, Route]> = [
    [ACTION, "heartbeat"],
    [ACTION, "poll"],
    [ACTION, "update"],
    [ACTION, "result"],
    [SENSOR, "heartbeat"],
    [SENSOR, "events"],
  ];
  const corrupted = routes.flatMap(([agent, route]) => GARBAGE.map((kind): Fault => ({ agent, route, garbage: kind })));
  scene.proxy.plan(...corrupted);
  await waitUntil(() => (scene.proxy.pending() === 0 ? true : undefined), "every corrupted answer served", 60_000);
  for (const fault of corrupted) scene.barrage.push(`corrupted answer to ${fault.agent} ${fault.route}: ${"garbage" in fault ? fault.garbage : "instruction"}`);
}

/** After all that, a good install still works and its plugin runs. */
async function goodInstall(scene: Scene, round: number): Promise<void> {
  if (round === 1) {
    const source = scene.archives.tally;
    const installed = await ended(scene, await create(scene, { agent_id: ACTION, plugin_id: "tally", instruction_type: "plugin_install", plugin_configuration: { source } }));
    expect({ status: installed.status, version: installed.result?.version }, JSON.stringify(installed)).toEqual({ status: "completed", version: "1.0.0" });
  }
  const ran = await ended(scene, await create(scene, { agent_id: ACTION, plugin_id: "tally" }));
  expect({ status: ran.status, result: ran.result }).toEqual({ status: "completed", result: { tally: true } });
}

// ---- what is checked at the end ---------------------------------------------------------------------------

/**
 * Every answer an agent could not use was counted as an error of its kind, exactly; each malformed one was
 * logged with what was wrong with it, and each kind of call that got an oversized one says so.
 */
async function countedAsErrors(scene: Scene): Promise<void> {
  for (const type of ["action", "sensor"] as const) {
    const id = AGENT_IDS[type];
    const metrics = await (await fetch(`http://127.0.0.1:${scene.health[type]}/metrics`)).text();
    const sent = scene.proxy.unusable(id);
    // Every delivery of a row written into the database was one more malformed answer.
    if (type === "action") {
      sent.malformed += readDb(scene.orchestratorDb, (db) =>
        db.query<{ n: number }, []>(`SELECT coalesce(sum(delivery_count), 0) AS n FROM instructions WHERE id IN (${scene.injectedRows.map(() => "?").join(", ")})`).get(...(scene.injectedRows as []))!.n,
      );
    }
    expect({ malformed: metricsCount(metrics, "malformed"), too_large: metricsCount(metrics, "too_large") }, `${type} metrics:\n${metrics}`).toEqual(sent);
    const output = unescaped(scene.agents[type].output());
    const logged = output.match(/the orchestrator sent an answer the agent cannot use request="\[[A-Z]+\] "\/agents\/v1\/[^"]+"" status=200 problem="[^"\n]+/g) ?? [];
    expect(logged.length).toBe(sent.malformed);
    const calls = type === "action" ? ["heartbeat", "instructions", "instructions/ins_[^\"]+", "instructions/ins_[^\"]+/result"] : ["heartbeat", "events"];
    for (const call of calls) expect(output).toMatch(new RegExp(`/agents/v1/${id}/${call}": 200, answer larger than 8388608 bytes`));
  }
}

async function stillServing(scene: Scene): Promise<void> {
  for (const type of ["action", "sensor"] as const) {
    const base = `http://127.0.0.1:${scene.health[type]}`;
    expect(scene.agents[type].proc.exitCode).toBeNull();
    expect((await fetch(`${base}/health`)).status).toBe(200);
    await waitUntil(async () => ((await fetch(`${base}/ready`)).status === 200 ? true : undefined), `${type} ready`);
  }
}

// ---- the scenario -------------------------------------------------------------------------------------------

test(
  "bad input at every boundary: each a clear error, nothing lost, the agents still serving",
  async () => {
    const scene = await startScene(await hostBinary());
    const { action, sensor } = scene.agents;
    // The good instructions' own lines left out: a failure shows what the bad input did.
    const routine = /^.*\] instruction (received|completed) .*plugin_id=shell-command.*\n/gm;
    const logs = () =>
      ([["orchestrator", scene.orchestrator], ["action", action], ["sensor", sensor]] as const)
        .map(([name, started]) => `----- ${name} -----\n${started.output().replace(routine, "").slice(-30_000)}`)
        .join("\n");
    const good: string[] = [];
    let feeding = true;
    let feeder: Promise<void> = Promise.resolve();

    try {
      await action.waitFor(/taking instructions in 4 slots/, 30_000);
      await sensor.waitFor(/running 1 triggers/, 30_000);
      // Good work all along: an instruction every 200 ms whose effect is one line in `marks`, and events.
      feeder = (async () => {
        for (let n = 0; feeding; n++) {
          const mark = `good-${n}`;
          good.push(await create(scene, { agent_id: ACTION, plugin_id: "shell-command", input_data: { command: ["sh", "-c", `echo ${mark} >> ${scene.marks}`] }, correlation_id: mark }));
          await Bun.sleep(200);
        }
      })();
      const storedEvents = () => readDb(scene.orchestratorDb, (db) => db.query<{ n: number }, [string]>("SELECT count(*) AS n FROM events WHERE agent_id = ?").get(SENSOR)!.n);
      await waitUntil(() => (storedEvents() >= 100 ? true : undefined), "the first events stored");

      for (let round = 1; round <= ROUNDS; round++) {
        await brokenConfigs(scene, round);
        await brokenManifests(scene);
        await maliciousArchives(scene);
        await refusedInstructions(scene, round);
        await injectedRow(scene, round);
        await wrongInstructions(scene);
        await corruptedAnswers(scene);
        await goodInstall(scene, round);
      }
      await stillServing(scene);

      // Stop feeding; every good instruction ends, completed, its mark written once.
      feeding = false;
      await feeder;
      const finals = await waitUntil(
        () => {
          const rows = readDb(scene.orchestratorDb, (db) =>
            db.query<{ status: string; correlation_id: string }, [string]>("SELECT status, correlation_id FROM instructions WHERE agent_id = ? AND correlation_id LIKE 'good-%'").all(ACTION),
          );
          return rows.length === good.length && rows.every((row) => FINAL.includes(row.status)) ? rows : undefined;
        },
        "every good instruction to end",
        60_000,
      );
      const lines = readFileSync(scene.marks, "utf8").split("\n").filter(Boolean);
      const marked = new Set(lines);
      expect(finals.filter((row) => row.status !== "completed")).toEqual([]);
      await countedAsErrors(scene);

      // The sensor stops cleanly, delivering what it spooled; every event it emitted is stored once.
      sensor.kill("SIGTERM");
      expect(await sensor.exited).toBe(0);
      const spool = join(dir, "homes", `agent-${SENSOR}`, "data", "state", "events.db");
      const left = readDb(spool, (db) => db.query<{ seq: number }, []>("SELECT json_extract(body, '$.data.seq') AS seq FROM events").all().map((row) => row.seq));
      expect(left).toEqual([]);
      const stored = readDb(scene.orchestratorDb, (db) =>
        db.query<{ id: string; seq: number }, [string]>("SELECT id, json_extract(body, '$.data.seq') AS seq FROM events WHERE agent_id = ?").all(SENSOR),
      );
      // The burst trigger numbers its events 1, 2, 3, …: the highest stored is how many it emitted.
      const emitted = Math.max(0, ...stored.map((row) => row.seq));
      const storedSeqs = new Set(stored.map((row) => row.seq));

      console.log(`bad inputs (${scene.barrage.length}):\n  ${scene.barrage.join("\n  ")}`);
      const unusable = (id: string) => scene.proxy.unusable(id).malformed + scene.proxy.unusable(id).too_large;
      account("bad-input/events", {
        emitted,
        delivered: Array.from({ length: emitted }, (_, i) => i + 1).filter((seq) => storedSeqs.has(seq)).length,
        duplicated: duplicates(stored.map((row) => row.id)) + duplicates(stored.map((row) => row.seq)),
        extra: { rounds: ROUNDS, bad_inputs: scene.barrage.length, proxy_garbage: unusable(SENSOR) },
      });
      account("bad-input/instructions", {
        emitted: good.length,
        delivered: finals.filter((row) => row.status === "completed" && marked.has(row.correlation_id)).length,
        duplicated: duplicates(lines),
        extra: { rounds: ROUNDS, bad_inputs: scene.barrage.length, proxy_garbage: unusable(ACTION) },
      });

      action.kill("SIGTERM");
      expect(await action.exited).toBe(0);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`${message}\n\n${logs()}`, { cause: error });
    } finally {
      feeding = false;
      await feeder.catch(() => {});
      scene.proxy.stop();
      scene.archives.stop();
    }
  },
  scenarioTimeout(ROUNDS * ROUND_MS),
);

// ---- helpers ---------------------------------------------------------------------------------------------

/** Log fields are JSON-quoted: `error="… \"x\" …"`. Patterns are written against the plain text. */
function unescaped(text: string): string {
  return text.replaceAll('\\"', '"');
}

/** Waits for `pattern` in what `agent` wrote after `from` (an offset into its output). */
function waitForNew(agent: TestProcess, from: number, pattern: RegExp, what: string): Promise<RegExpMatchArray> {
  return waitUntil(() => unescaped(agent.output().slice(from)).match(pattern) ?? undefined, what);
}

function readDb<T>(file: string, read: (db: Database) => T): T {
  const db = new Database(file, { readonly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/** The sum of stavily_http_requests_total over every call that ended with `code`. */
function metricsCount(text: string, code: string): number {
  return [...text.matchAll(/^stavily_http_requests_total\{(.*)\} (\d+)$/gm)]
    .filter(([, labels]) => /code="([^"]*)"/.exec(labels!)?.[1] === code)
    .reduce((sum, [, , value]) => sum + Number(value), 0);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
