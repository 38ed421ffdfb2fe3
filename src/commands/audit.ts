import { basename, dirname, relative } from "node:path";
import { loadConfig } from "../core/config/index.ts";
import { verifyAudit } from "../core/audit/index.ts";
import { toLoadOptions, type ConfigFlags } from "./config.ts";

export interface AuditVerifyFlags extends ConfigFlags {
  dir?: string;
}

/**
 * `stavily audit verify`: walks the audit chain; exit 0 when intact, 1 at the first broken record.
 * The log is `--dir`'s, else the one `security.audit.log_file` of the config names.
 */
export function auditVerifyCommand(flags: AuditVerifyFlags): number {
  const configured = flags.dir === undefined || flags.config !== undefined ? loadConfig(toLoadOptions(flags)).config.security.audit.log_file : undefined;
  const dir = flags.dir === undefined ? dirname(configured!) : String(flags.dir);
  const result = verifyAudit(dir, configured ? { name: basename(configured) } : {});
  if (result.error) {
    const { file, line, reason, message } = result.error;
    console.error(`audit: ${shortPath(file)}:${line}: ${reason}: ${message}`);
    console.error(`  ${result.records} record${result.records === 1 ? "" : "s"} before it are intact`);
    return 1;
  }
  console.log(`ok: ${result.records} record${result.records === 1 ? "" : "s"} in ${result.files} file${result.files === 1 ? "" : "s"}, chain intact`);
  if (result.first && result.last) {
    const start = result.first.seq === 1 ? "seq 1 (genesis)" : `seq ${result.first.seq} (older files pruned; accepted as the start)`;
    console.log(`  from ${start} to seq ${result.last.seq}, last hash ${result.last.hash}`);
  }
  return 0;
}

function shortPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith("..") ? file : rel;
}
