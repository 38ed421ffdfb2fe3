/** The configuration; plugin.yaml declares the same fields and defaults (a test checks they agree). */
import * as v from "valibot";

export const ConfigSchema = v.object({
  /** json: one JSON object per line; text: one compact line per event. */
  format: v.optional(v.picklist(["json", "text"]), "json"),
});

export type StdoutConfig = v.InferOutput<typeof ConfigSchema>;
