import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StavilyError } from "../errors.ts";
import { registerSecret } from "../redact.ts";
import { memoryIO, readJsonLines, tempDirs } from "./_test-support.ts";
import { createLogger, LOGGING_DEFAULTS, type LoggingOptions } from "./index.ts";

const temp = tempDirs();
afterEach(() => temp.cleanup());

function fileOptions(overrides: Partial<LoggingOptions> = {}): LoggingOptions {
  return { ...LOGGING_DEFAULTS, output: "file", format: "json", file: join(temp.make(), "logs", "agent.log"), ...overrides };
}

describe("json format", () => {
  test("one object per line with time, level, msg, identity, component and fields", async () => {
    const options = fileOptions();
    const log = createLogger(options, { agent_id: "agt_1", agent_type: "sensor" });
    log.info("started", { port: 8080, tags: ["a"] });
    log.child("poll").warn("slow", { took_ms: 1500 });
    await log.close();

    const lines = readJsonLines(options.file);
    expect(lines).toHaveLength(2);
    expect(Object.keys(lines[0] ?? {})).toEqual(["time", "level", "msg", "agent_id", "agent_type", "port", "tags"]);
    expect(lines[0]).toMatchObject({ level: "info", msg: "started", agent_id: "agt_1", agent_type: "sensor", port: 8080, tags: ["a"] });
    expect(lines[0]?.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(lines[1]).toMatchObject({ level: "warn", msg: "slow", component: "poll", took_ms: 1500 });
  });

  test("a line is in the file as soon as the call returns", async () => {
    const options = fileOptions();
    const log = createLogger(options);
    log.error("before any await");
    expect(readJsonLines(options.file)).toMatchObject([{ level: "error", msg: "before any await" }]);
    await log.close();
  });

  test("creates parent directories 0750 and the file 0640", async () => {
    const options = fileOptions();
    const log = createLogger(options);
    await log.close();
    const umask = process.umask();
    expect(statSync(options.file).mode & 0o777).toBe(0o640 & ~umask);
    expect(statSync(join(options.file, "..")).mode & 0o777).toBe(0o750 & ~umask);
  });

  test("identical lines in a row are all written", async () => {
    const options = fileOptions();
    const log = createLogger(options);
    for (let i = 0; i < 20; i++) log.info("same");
    await log.close();
    expect(readJsonLines(options.file)).toHaveLength(20);
  });
});

describe("levels", () => {
  test("lines below the level are dropped, fatal and error are told apart", async () => {
    const io = memoryIO();
    const log = createLogger({ ...LOGGING_DEFAULTS, level: "warn", format: "json", output: "stdout" }, {}, io);
    for (const level of ["trace", "debug", "info", "warn", "error", "fatal"] as const) log[level](level);
    const fatalOnly = createLogger({ ...LOGGING_DEFAULTS, level: "fatal", format: "json", output: "stderr" }, {}, io);
    fatalOnly.error("dropped");
    fatalOnly.fatal("kept");
    await Promise.all([log.close(), fatalOnly.close()]);
    expect(io.stdout.lines().map((line) => JSON.parse(line).level)).toEqual(["warn", "error", "fatal"]);
    expect(io.stderr.lines().map((line) => JSON.parse(line).msg)).toEqual(["kept"]);
  });

  test("trace lets everything through; silent writes nothing and creates no file", async () => {
    const io = memoryIO();
    const log = createLogger({ ...LOGGING_DEFAULTS, level: "trace", format: "json", output: "stdout" }, {}, io);
    for (const level of ["trace", "debug", "info", "warn", "error", "fatal"] as const) log[level](level);
    expect(io.stdout.lines()).toHaveLength(6);

    const options = fileOptions({ level: "silent" });
    const silent = createLogger(options);
    silent.fatal("nothing");
    await silent.close();
    expect(existsSync(options.file)).toBe(false);
  });
});

describe("redaction", () => {
  test("a token in a field, in a message and in an Authorization header never reaches the line", async () => {
    const io = memoryIO();
    const log = createLogger({ ...LOGGING_DEFAULTS, format: "json", output: "stdout" }, {}, io);
    log.info("registered", { token: "tok_live_abcdef123456", nested: { api_key: "k-123456789" } });
    log.info("calling with Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig now");
    log.warn("request failed", { headers: { Authorization: "Bearer abcdefghijklmnop" }, raw: "Authorization: Basic dXNlcjpwYXNz" });
    registerSecret("s3cr3t-value-from-config");
    log.error("oops", new Error("connect with s3cr3t-value-from-config failed"));
    await log.close();

    const text = io.stdout.text();
    for (const secret of ["tok_live_abcdef123456", "k-123456789", "eyJhbGciOiJIUzI1NiJ9", "abcdefghijklmnop", "dXNlcjpwYXNz", "s3cr3t-value-from-config"]) {
      expect(text).not.toContain(secret);
    }
    const [fields, message, header, error] = io.stdout.lines().map((line) => JSON.parse(line));
    expect(fields).toMatchObject({ token: "[REDACTED]", nested: { api_key: "[REDACTED]" } });
    expect(message.msg).toBe("calling with Bearer [REDACTED] now");
    expect(header.headers.Authorization).toBe("[REDACTED]");
    expect(header.raw).toContain("[REDACTED]");
    expect(error.error.message).toBe("connect with [REDACTED] failed");
  });
});

describe("errors", () => {
  function failure() {
    return new StavilyError("api", "heartbeat failed", { cause: new Error("connect ECONNREFUSED", { cause: "socket closed" }) });
  }

  test("an Error argument is logged with its cause chain, without stack at info", async () => {
    const io = memoryIO();
    const log = createLogger({ ...LOGGING_DEFAULTS, format: "json", output: "stdout" }, {}, io);
    log.error("gave up", failure());
    log.warn("retrying", { error: failure(), attempt: 2 });
    await log.close();
    const [first, second] = io.stdout.lines().map((line) => JSON.parse(line));
    expect(first.error).toEqual({
      name: "StavilyError",
      message: "heartbeat failed",
      component: "api",
      cause: { message: "connect ECONNREFUSED", cause: "socket closed" },
    });
    expect(second).toMatchObject({ attempt: 2, error: { message: "heartbeat failed" } });
  });

  test("stacks appear at debug level", async () => {
    const io = memoryIO();
    const log = createLogger({ ...LOGGING_DEFAULTS, level: "debug", format: "json", output: "stdout" }, {}, io);
    log.error("gave up", failure());
    await log.close();
    const [line] = io.stdout.lines().map((text) => JSON.parse(text));
    expect(line.error.stack).toContain("heartbeat failed");
    expect(line.error.cause.stack).toContain("connect ECONNREFUSED");
  });

  test("text format shows the chain on the line", async () => {
    const io = memoryIO();
    const log = createLogger({ ...LOGGING_DEFAULTS, format: "text", output: "stderr" }, {}, io);
    log.child("heartbeat").error("gave up", failure());
    await log.close();
    expect(io.stderr.text()).toMatch(
      /^\S+Z ERROR \[heartbeat\] gave up error="StavilyError: heartbeat failed; caused by: connect ECONNREFUSED; caused by: socket closed"\n$/,
    );
  });
});

describe("text format colour", () => {
  const options: LoggingOptions = { ...LOGGING_DEFAULTS, format: "text", output: "stdout" };

  test("no colour when the output is not a TTY", async () => {
    const io = memoryIO({ isTTY: false });
    const log = createLogger(options, {}, io);
    log.info("hello", { n: 1 });
    await log.close();
    expect(io.stdout.text()).toMatch(/^\S+Z INFO  hello n=1\n$/);
  });

  test("colour on a TTY unless NO_COLOR is set", async () => {
    const tty = memoryIO({ isTTY: true });
    const noColor = memoryIO({ isTTY: true, env: { NO_COLOR: "1" } });
    for (const io of [tty, noColor]) createLogger(options, {}, io).info("hello");
    expect(tty.stdout.text()).toContain("\u001B[32mINFO ");
    expect(noColor.stdout.text()).not.toContain("\u001B[");
  });

  test("the real stdout of a process, piped, gets no colour", () => {
    const script = `
      const { createLogger, LOGGING_DEFAULTS } = await import(${JSON.stringify(join(import.meta.dir, "index.ts"))});
      const log = createLogger({ ...LOGGING_DEFAULTS, format: "text", output: "stdout" });
      log.warn("from a child process", { ok: true });
      await log.close();
    `;
    const env = { ...process.env };
    delete env.NO_COLOR;
    const child = Bun.spawnSync([process.execPath, "-e", script], { env, stdout: "pipe", stderr: "pipe" });
    expect(child.stderr.toString()).toBe("");
    expect(child.stdout.toString()).toMatch(/^\S+Z WARN  from a child process ok=true\n$/);
  });
});

describe("options", () => {
  test("invalid options fail at creation with every problem listed", () => {
    const bad = { ...LOGGING_DEFAULTS, output: "file", file: "relative.log", max_size: -1 } as const;
    let thrown: unknown;
    try {
      createLogger(bad);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(StavilyError);
    expect((thrown as StavilyError).exitCode).toBe(2);
    expect((thrown as StavilyError).details).toEqual([
      'file: an absolute path is required when output is "file" (got "relative.log")',
      "max_size: must be a number ≥ 0 (got -1)",
    ]);
  });

  test("a log file that cannot be opened fails at creation", () => {
    const dir = temp.make();
    const blocker = join(dir, "not-a-dir");
    writeFileSync(blocker, "");
    expect(() => createLogger(fileOptions({ file: join(blocker, "agent.log") }))).toThrow(/cannot open log file/);
  });

  test("close is shared by children and can be called twice; later lines still reach the file", async () => {
    const options = fileOptions();
    const log = createLogger(options);
    const child = log.child("a").child("b");
    child.info("one");
    await Promise.all([child.close(), log.close()]);
    log.info("after close");
    await log.close();
    const lines = readJsonLines(options.file);
    expect(lines.map((line) => line.msg)).toEqual(["one", "after close"]);
    expect(lines[0]?.component).toBe("a:b");
    expect(readFileSync(options.file, "utf8").endsWith("\n")).toBe(true);
  });
});
