import { afterEach, expect, test } from "bun:test";
import { createWorkerInstance } from "../../../src/core/plugin/worker/index.ts";
import { instances, makeLaunch, recordingLogger, request, tempDirs, within } from "../../../src/core/plugin/worker/_test-support.ts";

const temp = tempDirs();
const running = instances();
afterEach(async () => {
  await running.cleanup();
  temp.cleanup();
});

test("echo returns the parameters, prefixes message, and logs one line", async () => {
  const logger = recordingLogger();
  const echo = running.track(createWorkerInstance(makeLaunch(temp.make(), "builtin:echo", "action", { config: { prefix: "re: " } }), { logger }));
  await echo.start(within());
  const lines: string[] = [];
  const result = await echo.execute(request("echo", { message: "hello", n: 2 }), { ...within(), onLog: (line) => lines.push(line) });
  expect(result).toEqual({ status: "completed", data: { parameters: { message: "hello", n: 2 }, message: "re: hello", agent: "agt_test" } });
  expect(lines).toEqual(['info echo {"request_id":"req_echo","parameters":2}']);
});
