import { afterEach, expect, test } from "bun:test";
import { json, makeConfig, startServer, tempDirs, type TestServer } from "../api/_testkit.ts";
import { runAgent } from "./lifecycle.ts";

const dirs = tempDirs();
let server: TestServer | undefined;
afterEach(() => {
  server?.stop();
  dirs.cleanup();
});

test("a runtime that fails (its spool cannot be opened) stops the agent in order and rethrows, instead of leaving it half alive", async () => {
  server = startServer(() => json({}));
  const config = makeConfig(dirs.make(), server.url, ["security.allow_root=true", "agent.shutdown_grace=1s", "logging.level=error"]);
  const error = new Error("cannot open the event spool /x/events.db: unable to open database file");
  const run = runAgent({
    load: () => ({ config, searched: [], warnings: [] }),
    runtime: { run: () => Promise.reject(error), running: () => [], cancel: () => {} },
  });
  await expect(run).rejects.toBe(error);
  // Stopped in order: the offline heartbeat went out after the failure.
  expect(server.hits.some((hit) => hit.path.endsWith("/heartbeat") && JSON.parse(hit.body).status === "offline")).toBe(true);
});
