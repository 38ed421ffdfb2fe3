/** The plugin's own log file (`launch.logFile`): its stderr and stray stdout, appended, mode 0640. */
import fs from "node:fs";
import path from "node:path";
import { redactText } from "../../redact.ts";

export interface PluginLog {
  /** One line, prefixed with time, instance and stream. */
  write(stream: "stderr" | "stdout" | "host", text: string): void;
  close(): Promise<void>;
}

/**
 * Opens (creating) the file at once, so an unwritable log fails the start. A write failure later is
 * handed to `onError` once; the plugin keeps running.
 */
export function openPluginLog(file: string, instance: string, onError: (error: Error) => void): PluginLog {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o750 });
  const fd = fs.openSync(file, "a", 0o640);
  const stream = fs.createWriteStream("", { fd, flags: "a" });
  let failed = false;
  stream.on("error", (error) => {
    if (failed) return;
    failed = true;
    onError(error);
  });
  let closing: Promise<void> | undefined;
  return {
    write(source, text) {
      if (failed || closing) return;
      stream.write(`${new Date().toISOString()} ${instance} ${source}: ${redactText(text)}\n`);
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        if (failed) return resolve();
        stream.end(() => resolve());
      });
      return closing;
    },
  };
}
