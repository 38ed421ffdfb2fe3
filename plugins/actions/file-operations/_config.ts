/**
 * The agent's local configuration (`plugins.config.file-operations`), the only source of the bounds.
 * plugin.yaml declares the same fields and defaults (a test checks they agree).
 */
import { isAbsolute } from "node:path";
import * as v from "valibot";

export const ConfigSchema = v.object({
  /** Directories (and everything below them) operations may touch; the plugin's work dir always may. */
  allowed_paths: v.optional(v.array(v.pipe(v.string(), v.check(isAbsolute, "expected an absolute path"))), []),
  /** Largest content one `write` may carry, bytes (after base64 decoding). */
  max_write_size: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 10_485_760),
  /** Whether `delete` with recursive: true may remove a directory tree. */
  allow_recursive_delete: v.optional(v.boolean(), false),
});

export type FileOpsConfig = v.InferOutput<typeof ConfigSchema>;
