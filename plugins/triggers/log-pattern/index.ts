/**
 * log-pattern: tails one log file and reports each line matching `pattern`, with its captured
 * groups. The position (file identity + byte offset) is kept in ctx.state after every detect, so
 * a restart neither skips nor repeats lines; rotation and truncation are followed (see _tail.ts).
 *
 * The file is read with node:fs rather than ctx.fs, which can only read whole files (readText) and
 * has no open/read-at-offset or inode in stat. The only file touched is `path`, the one the
 * manifest grants through config:path.
 */
import { defineTrigger, type DetectedEvent, type PluginContext } from "../../../src/sdk/index.ts";
import type { Line } from "./_lines.ts";
import { compilePattern, ConfigSchema, type LogPatternConfig } from "./_schema.ts";
import { createTail, type Cursor, type Tail } from "./_tail.ts";

type Ctx = PluginContext<LogPatternConfig>;

const CURSOR_KEY = "cursor";

/** Per running instance (a worker runs one): the compiled pattern and the open file. */
interface Runtime {
  regex: RegExp;
  tail: Tail;
}

// Keyed by the instance's ctx.state, the one object every call of an instance shares.
const runtimes = new WeakMap<object, Runtime>();

function runtimeOf(ctx: Ctx): Runtime {
  let runtime = runtimes.get(ctx.state);
  if (!runtime) {
    const { config } = ctx;
    runtime = {
      regex: compilePattern(config),
      tail: createTail(config.path, { maxBytes: config.max_bytes_per_detect, maxLineBytes: config.max_line_bytes, startAtEnd: config.start_at === "end" }),
    };
    runtimes.set(ctx.state, runtime);
  }
  return runtime;
}

export default defineTrigger({
  configSchema: ConfigSchema,
  async init(ctx) {
    const runtime = runtimeOf(ctx); // an invalid pattern refuses to start
    // "end" means the end at start, so lines written before the first detect are not lost.
    if (ctx.config.start_at === "end" && ctx.state.get(CURSOR_KEY) === undefined) {
      const cursor = await runtime.tail.endCursor();
      ctx.state.set(CURSOR_KEY, cursor);
      ctx.logger.info("no saved position: starting at the end", { path: ctx.config.path, offset: cursor.offset });
    }
  },
  async detect(ctx) {
    const { config } = ctx;
    const runtime = runtimeOf(ctx);
    const events: DetectedEvent[] = [];
    const onLine = (line: Line): boolean => {
      const match = runtime.regex.exec(line.text);
      if (!match) return true;
      if (events.length >= config.max_events) return false; // this line waits for the next detect
      events.push(toEvent(config, line, match));
      return true;
    };
    const saved = ctx.state.get<Cursor>(CURSOR_KEY);
    const run = await runtime.tail.read(saved, onLine);
    // Written only when it moved: an idle log costs no disk write per detect.
    if (run.cursor && JSON.stringify(run.cursor) !== JSON.stringify(saved)) ctx.state.set(CURSOR_KEY, run.cursor);
    for (const note of run.notes) {
      if (note === "rotated") ctx.logger.info("rotated: finished the old file, reading the new one from the start", { path: config.path });
      else if (note === "rotated_unread") ctx.logger.warn("rotated while the old file was not open here (a restart): lines left unread in it are not reported", { path: config.path });
      else if (note === "truncated") ctx.logger.info("truncated: reading again from the start", { path: config.path });
      else if (note === "started") ctx.logger.info("no saved position: starting at the beginning", { path: config.path });
    }
    return events;
  },
  async stop(ctx) {
    const runtime = runtimes.get(ctx.state);
    runtimes.delete(ctx.state);
    await runtime?.tail.close();
  },
});

/**
 * No severity (the trigger's applies) and no dedupe_key: all matches of a trigger are one
 * condition, so the trigger's `cooldown` (0 by default) limits how often they are reported.
 */
function toEvent(config: LogPatternConfig, line: Line, match: RegExpExecArray): DetectedEvent {
  return {
    type: config.event_type,
    data: {
      path: config.path,
      line: line.text,
      offset: line.offset,
      truncated: line.truncated,
      groups: match.slice(1).map((group) => group ?? null),
      named: Object.fromEntries(Object.entries(match.groups ?? {}).map(([name, value]) => [name, value ?? null])),
    },
  };
}
