export { createAuditLog, NO_AUDIT, type AuditLog, type AuditLogOptions } from "./_log.ts";
export { verifyAudit, type AuditBreak, type AuditVerification, type BreakReason } from "./_verify.ts";
export { AUDIT_EVENTS, GENESIS, type AuditEvent, type AuditRecord } from "./_record.ts";
