import { redactText } from "../redact.ts";
import { serializeError } from "./_entry.ts";
import { describeError } from "./_format.ts";
import type { LoggingOptions } from "./_options.ts";
import { createRotatingFile } from "./_rotating-file.ts";

/** The part of a Node stream a sink uses; tests pass a fake with or without `isTTY`. */
export interface LogStream {
  write(chunk: string, callback?: (error?: Error | null) => void): boolean;
  isTTY?: boolean;
}

/** What a logger touches outside its own files; the default is the process's. */
export interface LogIO {
  stdout: LogStream;
  stderr: LogStream;
  env: Record<string, string | undefined>;
}

/** Where formatted lines go. */
export interface Sink {
  /** Whether text lines may carry ANSI colours. */
  color: boolean;
  write(line: string): void;
  close(): Promise<void>;
}

export function processIO(): LogIO {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/** https://no-color.org: any non-empty NO_COLOR turns colour off. */
function wantsColor(stream: LogStream, env: LogIO["env"]): boolean {
  return stream.isTTY === true && !env.NO_COLOR;
}

function streamSink(stream: LogStream, options: LoggingOptions, io: LogIO): Sink {
  return {
    color: options.format === "text" && wantsColor(stream, io.env),
    write: (line) => void stream.write(line),
    // The callback of an empty write runs once everything before it has been handed to the OS.
    close: () => new Promise<void>((resolve) => stream.write("", () => resolve())),
  };
}

/**
 * Problems of the log file itself go to stderr: the file is the thing that is failing. A line the file
 * refused goes there too, so it is not lost; the failure is reported once until a write succeeds again.
 */
function fileSink(options: LoggingOptions, io: LogIO): Sink {
  const report = (error: unknown) => {
    const text = error instanceof Error ? describeError(serializeError(error, false)) : String(error);
    io.stderr.write(`${new Date().toISOString()} ERROR [log] ${redactText(text)}\n`);
  };
  const file = createRotatingFile({ ...options, onError: report });
  let failing = false;
  return {
    color: false,
    write(line) {
      try {
        file.write(line);
        failing = false;
      } catch (error) {
        if (!failing) report(error);
        failing = true;
        io.stderr.write(line);
      }
    },
    close: () => file.close(),
  };
}

export function createSink(options: LoggingOptions, io: LogIO): Sink {
  if (options.output === "file") return fileSink(options, io);
  return streamSink(options.output === "stdout" ? io.stdout : io.stderr, options, io);
}
