/** The sensor's instruction loop: an instruction chained on a result's acknowledgement runs next, before any poll. */
import { afterEach, expect, test } from "bun:test";
import { json, makeClient, makeConfig, NO_INSTRUCTION, startServer, tempDirs, type TestServer } from "../core/api/_testkit.ts";
import type { RuntimeContext } from "../core/agent/index.ts";
import type { PluginHost } from "../core/plugin/host.ts";
import { instructions } from "./runtime.ts";

const dirs = tempDirs();
let server: TestServer | undefined;
afterEach(() => {
  server?.stop();
  dirs.cleanup();
});

const instruction = (id: string) => ({ id, plugin_id: "echo", instruction_type: "execute", plugin_configuration: {}, input_data: {} });

test("an instruction chained on the acknowledgement is run and reported without waiting for its lease", async () => {
  const stop = new AbortController();
  const polls: number[] = [];
  server = startServer(async (request, hit, index) => {
    if (hit.path.endsWith("/instructions")) {
      polls.push(index);
      // The first poll delivers a; later ones find nothing (b is never handed out by a poll).
      return json(polls.length === 1 ? { instruction: instruction("a"), status: "instruction_available" } : NO_INSTRUCTION);
    }
    const id = /\/instructions\/([^/]+)\/result$/.exec(hit.path)?.[1];
    return json({ acknowledged: true, next_instruction: id === "a" ? instruction("b") : null });
  });
  const config = makeConfig(dirs.make(), server.url);
  const { client, logger } = makeClient(config);
  const context = { config: () => config, api: client, logger, stop: stop.signal, abort: new AbortController().signal } as unknown as RuntimeContext;
  const loop = instructions(context, {} as PluginHost);

  const results = () => server!.hits.filter((hit) => hit.path.endsWith("/result"));
  const deadline = Date.now() + 5_000;
  while (results().length < 2 && Date.now() < deadline) await Bun.sleep(10);
  stop.abort();
  await loop;

  expect(results().map((hit) => [hit.path.split("/").at(-2), JSON.parse(hit.body).error_details.reason])).toEqual([
    ["a", "unsupported_instruction_type"],
    ["b", "unsupported_instruction_type"],
  ]);
  // b ran straight after a's acknowledgement: no poll between the two results.
  const [first, second] = results().map((hit) => server!.hits.indexOf(hit));
  expect(polls.filter((index) => index > first! && index < second!)).toEqual([]);
});
