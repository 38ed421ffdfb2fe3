/**
 * shell-command through the real path an instruction takes: the built-in manifest, the local config
 * validated against it, the launch the host builds, a real worker and real processes.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, realpathSync, symlinkSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as v from "valibot";
import { ConfigSchema as AgentConfigSchema } from "../../../src/core/config/index.ts";
import { agentHomePaths } from "../../../src/core/home/index.ts";
import { assertPluginConfig, expandConfigGrants, parseBuiltinManifest, pluginConfigSchema, toLaunch } from "../../../src/core/plugin/manifest/index.ts";
import type { ActionResult } from "../../../src/core/plugin/types.ts";
import { createWorkerInstance } from "../../../src/core/plugin/worker/index.ts";
import { instances, recordingLogger, request, settleWithin, tempDirs, within } from "../../../src/core/plugin/worker/_test-support.ts";
import { BUILTIN_PLUGINS } from "../../all.ts";
import { ConfigSchema } from "./_config.ts";
import { goneWithin } from "../../../test/support/process.ts";

const temp = tempDirs();
const running = instances();
afterEach(async () => {
  await running.cleanup();
  temp.cleanup();
});

const ID = "shell-command";
const manifest = () => parseBuiltinManifest(ID, BUILTIN_PLUGINS[ID]!.manifest);

/** Starts the plugin as the host would with `local` as plugins.config.shell-command. */
async function start(local: Record<string, unknown>, base = realpathSync(temp.make())) {
  const config = assertPluginConfig(manifest(), local, `plugins.config.${ID}`);
  const sandbox = v.parse(AgentConfigSchema, {}).security.sandbox;
  const agent = { id: "action-1", type: "action", name: "test", environment: "test", tags: [] } as const;
  const launch = toLaunch(manifest(), { home: agentHomePaths(base, agent.id), agent: { ...agent, tags: [] }, instance: ID, config, sandbox });
  mkdirSync(launch.workDir, { recursive: true });
  const instance = running.track(createWorkerInstance(launch, { logger: recordingLogger() }));
  await instance.start(within());
  return { instance, base, workDir: launch.workDir, run: (parameters: Record<string, unknown>) => instance.execute(request("execute", parameters), within(15_000)) };
}

/** Checked by hand: Bun's toMatchObject with an asymmetric matcher nested inside overwrites the received value. */
function expectDenied(result: ActionResult, message: RegExp): void {
  expect({ status: result.status, code: result.error?.code }).toEqual({ status: "failed", code: "permission_denied" });
  expect(result.error?.message).toMatch(message);
}

function expectInvalid(result: ActionResult, field: string): void {
  expect({ status: result.status, code: result.error?.code }).toEqual({ status: "failed", code: "invalid_parameters" });
  expect(result.error?.message).toStartWith(`invalid parameter ${field}: `);
}

describe("runs commands", () => {
  test("an argument list, exactly as given, with exit code, stdout and stderr", async () => {
    const { run } = await start({ allowed_commands: ["printf"] });
    const result = await run({ command: ["printf", "%s|%s", "a b", "$HOME;*"] });
    expect(result).toMatchObject({ status: "completed", data: { command: ["printf", "%s|%s", "a b", "$HOME;*"], exit_code: 0, stdout: "a b|$HOME;*", stderr: "", truncated: false, timed_out: false, shell: false } });
  });

  test("a string split like sh would, without a shell", async () => {
    const { run } = await start({ allowed_commands: ["printf"] });
    expect(await run({ command: `printf '%s|%s' "a b" c\\ d` })).toMatchObject({ status: "completed", data: { command: ["printf", "%s|%s", "a b", "c d"], stdout: "a b|c d" } });
  });

  test("input goes to stdin", async () => {
    const { run } = await start({ allowed_commands: ["cat"] });
    expect(await run({ command: "cat", input: "line 1\nline 2\n" })).toMatchObject({ status: "completed", data: { stdout: "line 1\nline 2\n" } });
  });

  test("a non-zero exit is failed, with the output; success_exit_codes can accept it", async () => {
    const command = ["sh", "-c", "echo partial; echo 'disk full' >&2; exit 3"];
    const strict = await start({ allowed_commands: ["sh"] });
    const failed = await strict.run({ command });
    expect(failed).toMatchObject({
      status: "failed",
      data: { exit_code: 3, stdout: "partial\n", stderr: "disk full\n" },
      error: { code: "command_failed", message: "the command failed: exit code 3: disk full" },
    });
    const lenient = await start({ allowed_commands: ["sh"], success_exit_codes: [0, 3] });
    expect(await lenient.run({ command })).toMatchObject({ status: "completed", data: { exit_code: 3 } });
  });

  test("output past max_output_size is cut and marked", async () => {
    const { run } = await start({ allowed_commands: ["sh"], max_output_size: 1024 });
    const result = await run({ command: ["sh", "-c", "head -c 5000 /dev/zero | tr '\\0' x; echo short >&2"] });
    expect(result).toMatchObject({ status: "completed", data: { truncated: true, stdout_truncated: true, stderr_truncated: false, stderr: "short\n" } });
    expect(result.data?.stdout).toBe(`${"x".repeat(1024)}\n[output truncated at 1024 bytes]`);
  });
});

describe("shell mode, from the local config only", () => {
  test("runs pipelines when shell: true, checking every command in them", async () => {
    const { run } = await start({ shell: true, allowed_commands: ["printf", "tr"] });
    expect(await run({ command: "printf 'abc' | tr a-z A-Z" })).toMatchObject({ status: "completed", data: { command: ["sh", "-c", "printf 'abc' | tr a-z A-Z"], shell: true, stdout: "ABC" } });
    expectDenied(await run({ command: "printf abc | sort" }), /"sort" is not in allowed_commands/);
    expectDenied(await run({ command: "printf abc; rm -rf /tmp/x" }), /"rm" is blocked/);
    expectInvalid(await run({ command: "printf $(sort /etc/passwd)" }), "command");
  });

  test("without it, shell syntax is refused, not passed on as arguments", async () => {
    const { run } = await start({ allowed_commands: ["printf", "tr"] });
    const result = await run({ command: "printf abc | tr a-z A-Z" });
    expectInvalid(result, "command");
    expect(result.error?.message).toContain('"|" needs a shell');
    expectInvalid(await run({ command: "printf $HOME" }), "command");
  });

  test("parameters cannot turn it on, nor widen any other bound", async () => {
    const { run } = await start({ allowed_commands: ["printf"] });
    for (const [key, value] of Object.entries({ shell: true, shell_path: "bash", allowed_commands: ["rm"], blocked_commands: [], allowed_paths: ["/"], allowed_env_vars: ["LD_PRELOAD"], max_timeout: 99999, max_output_size: 1e9 })) {
      const result = await run({ command: "printf x | sh", [key]: value });
      expectInvalid(result, key);
      expect(result.error?.message).toContain("agent's local configuration");
    }
    expectInvalid(await run({ command: "printf hi", sudo: true }), "sudo");
  });
});

describe("refuses", () => {
  test("commands not in allowed_commands; nothing runs with the default (empty) list", async () => {
    const none = await start({});
    expectDenied(await none.run({ command: "printf hi" }), /"printf" is not in allowed_commands \(empty/);
    const some = await start({ allowed_commands: ["printf"] });
    expectDenied(await some.run({ command: ["ls", "/"] }), /"ls" is not in allowed_commands/);
    expectDenied(await some.run({ command: ["/tmp/printf"] }), /"\/tmp\/printf" is not in allowed_commands/);
    expectDenied(await some.run({ command: ["./printf"] }), /a relative path/);
    // What a listed name resolves to on PATH is allowed by its absolute path too.
    expect(await some.run({ command: [Bun.which("printf") as string, "ok"] })).toMatchObject({ status: "completed", data: { stdout: "ok" } });
  });

  test("blocked commands, even when allowed, by name and by path", async () => {
    const { run } = await start({ allowed_commands: ["rm", "printf", "/usr/bin/rm"] });
    expectDenied(await run({ command: ["rm", "-rf", "/tmp/nothing-here"] }), /"rm" is blocked/);
    expectDenied(await run({ command: ["/usr/bin/rm", "x"] }), /is blocked/);
    const custom = await start({ allowed_commands: ["printf"], blocked_commands: ["printf"] });
    expectDenied(await custom.run({ command: "printf x" }), /blocked/);
  });

  test("ctx.exec may run exactly what the operator allows: allowed_commands and the shell, nothing from the instruction", async () => {
    const config = assertPluginConfig(manifest(), { allowed_commands: ["pwd", "/usr/bin/id"] }, "plugins.config.shell-command");
    expect(expandConfigGrants(manifest(), config).exec).toEqual(["pwd", "/usr/bin/id", "sh"]);
    const { run } = await start({ allowed_commands: ["pwd"] });
    expect((await run({ command: ["python3", "-c", "print(1)"] })).status).toBe("failed");
  });

  test("working directories outside allowed_paths, also through a symlink", async () => {
    const base = realpathSync(temp.make());
    const allowed = join(base, "allowed");
    const outside = join(base, "outside");
    mkdirSync(join(allowed, "sub"), { recursive: true });
    mkdirSync(outside);
    symlinkSync(outside, join(allowed, "escape"));
    const { run, workDir } = await start({ allowed_commands: ["pwd"], allowed_paths: [allowed] }, base);
    expect(await run({ command: "pwd", working_dir: join(allowed, "sub") })).toMatchObject({ status: "completed", data: { stdout: `${join(allowed, "sub")}\n` } });
    expect(await run({ command: "pwd" })).toMatchObject({ status: "completed", data: { stdout: `${workDir}\n` } });
    expectDenied(await run({ command: "pwd", working_dir: outside }), /outside allowed_paths/);
    expectDenied(await run({ command: "pwd", working_dir: join(allowed, "escape") }), /resolves to .*outside/);
    expectDenied(await run({ command: "pwd", working_dir: join(allowed, "..", "outside") }), /outside allowed_paths/);
    expectDenied(await run({ command: "pwd", working_dir: "/nonexistent/probe" }), /outside allowed_paths/);
    expectInvalid(await run({ command: "pwd", working_dir: join(allowed, "missing") }), "working_dir");
    expectInvalid(await run({ command: "pwd", working_dir: "relative/dir" }), "working_dir");
  });

  test("bad parameters, naming the field", async () => {
    const { run } = await start({ allowed_commands: ["printf"], timeout: 5, max_timeout: 10, max_input_size: 4 });
    expectInvalid(await run({}), "command");
    expectInvalid(await run({ command: [] }), "command");
    expectInvalid(await run({ command: "printf 'unclosed" }), "command");
    expectInvalid(await run({ command: "printf x", timeout: 11 }), "timeout");
    expectInvalid(await run({ command: "printf x", timeout: "5" }), "timeout");
    expectInvalid(await run({ command: "printf x", input: "12345" }), "input");
    expectInvalid(await run({ command: "printf x", env_vars: { "BAD-NAME": "x" } }), "env_vars.BAD-NAME");
  });
});

describe("environment", () => {
  test("a scrubbed base: nothing of the agent's environment, the local env, then env_vars", async () => {
    process.env.STAVILY_TEST_SECRET = "agent-secret";
    try {
      const { run } = await start({ allowed_commands: ["printenv"], env: { LANG: "C.UTF-8", GREETING: "local" } });
      expect(await run({ command: "printenv STAVILY_TEST_SECRET" })).toMatchObject({ status: "failed", data: { exit_code: 1, stdout: "" } });
      expect(await run({ command: "printenv LANG GREETING", env_vars: { GREETING: "hi" } })).toMatchObject({ status: "completed", data: { stdout: "C.UTF-8\nhi\n" } });
    } finally {
      delete process.env.STAVILY_TEST_SECRET;
    }
  });

  test("protected names (PATH, LD_*, BASH_ENV, …) are refused unless allowed_env_vars lists them", async () => {
    const open = await start({ allowed_commands: ["printenv"] });
    for (const name of ["PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "BASH_ENV", "ENV", "BASH_FUNC_ls", "GIT_SSH_COMMAND"]) {
      expectInvalid(await open.run({ command: "printenv", env_vars: { [name]: "/tmp/evil" } }), `env_vars.${name}`);
    }
    const listed = await start({ allowed_commands: ["printenv"], allowed_env_vars: ["PATH", "GREETING"] });
    expect(await listed.run({ command: "printenv PATH", env_vars: { PATH: "/usr/bin:/bin" } })).toMatchObject({ status: "completed", data: { stdout: "/usr/bin:/bin\n" } });
    expectInvalid(await listed.run({ command: "printenv", env_vars: { OTHER: "x" } }), "env_vars.OTHER");
  });
});

describe("timeouts and aborts kill the whole process group", () => {
  test("timeout", async () => {
    const { run } = await start({ allowed_commands: ["sh"] });
    // The shell starts a grandchild, reports its pid, and waits on it.
    const result = await run({ command: ["sh", "-c", "sleep 30 & echo $!; wait"], timeout: 1 });
    expect(result).toMatchObject({ status: "failed", error: { code: "timeout" }, data: { timed_out: true, aborted: false, exit_code: null, signal: "SIGKILL" } });
    expect(await goneWithin(Number((result.data?.stdout as string).trim()), 5_000)).toBe(true);
  });

  test("abort (the orchestrator cancelled, or the call's deadline passed)", async () => {
    const { instance, workDir } = await start({ allowed_commands: ["sh"] });
    const fifo = join(workDir, "pid");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const controller = new AbortController();
    const pending = instance.execute(request("execute", { command: ["sh", "-c", "sleep 30 & echo $! > pid; wait"] }), { ...within(30_000), signal: controller.signal });
    // Opening the fifo waits for the command to write it: the grandchild is running.
    const grandchild = Number((await settleWithin(readFile(fifo, "utf8"), 10_000, "the command writing its pid")).trim());
    controller.abort();
    const result = (await settleWithin(pending, 5_000, "aborted execute")) as ActionResult;
    expect(result).toMatchObject({ status: "failed", error: { code: "aborted" }, data: { timed_out: false, aborted: true, exit_code: null } });
    expect(await goneWithin(grandchild, 5_000)).toBe(true);
  });
});

test("plugin.yaml and the plugin's config schema agree on every field and default", () => {
  const fromManifest = v.parse(pluginConfigSchema(manifest()), {});
  const fromPlugin = v.parse(ConfigSchema, {});
  expect(fromPlugin).toEqual(fromManifest as typeof fromPlugin);
  expect(Object.keys(manifest().configuration).sort()).toEqual(Object.keys(fromPlugin).sort());
});

