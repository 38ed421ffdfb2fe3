/**
 * The barrage at the agents' own inputs: (a) broken configs sent by SIGHUP, (b) broken manifests dropped
 * into the plugins directory and plugin_install from malicious archives; and the good install after it.
 * Each bad input is asserted as it happens and recorded in `scene.barrage` with the message it produced.
 */
import { expect } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { goodEntry, goodManifest, type ArchiveCase } from "./archives.ts";
import { escape, waitForNew } from "./logs.ts";
import { ACTION, create, ended, SENSOR, status, writeConfig, type Scene } from "./scene.ts";

/** (a) Broken configs by SIGHUP: refused with file:line:column and the field; the running config stays. */
export async function brokenConfigs(scene: Scene, round: number): Promise<void> {
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
export async function brokenManifests(scene: Scene): Promise<void> {
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
export async function maliciousArchives(scene: Scene): Promise<void> {
  const nothingInstalled = () => {
    for (const pluginsDir of Object.values(scene.pluginsDirs)) {
      expect(existsSync(join(pluginsDir, "evil"))).toBe(false);
      expect(existsSync(join(pluginsDir, ".staging")) ? readdirSync(join(pluginsDir, ".staging")) : []).toEqual([]);
    }
    expect(existsSync(join(scene.dir, "escaped.txt"))).toBe(false);
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

/** After all that, a good install still works and its plugin runs. */
export async function goodInstall(scene: Scene, round: number): Promise<void> {
  if (round === 1) {
    const source = scene.archives.tally;
    const installed = await ended(scene, await create(scene, { agent_id: ACTION, plugin_id: "tally", instruction_type: "plugin_install", plugin_configuration: { source } }));
    expect({ status: installed.status, version: installed.result?.version }, JSON.stringify(installed)).toEqual({ status: "completed", version: "1.0.0" });
  }
  const ran = await ended(scene, await create(scene, { agent_id: ACTION, plugin_id: "tally" }));
  expect({ status: ran.status, result: ran.result }).toEqual({ status: "completed", result: { tally: true } });
}
