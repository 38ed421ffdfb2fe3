/**
 * The agent-local configuration (which services, which operations, which manager; mirrors
 * plugin.yaml) and the instruction's parameters (one service, one operation).
 */
import * as v from "valibot";
import { MANAGERS, SERVICE_NAME } from "./_managers.ts";

export const OPERATIONS = ["restart", "start", "stop", "status"] as const;
const NAME_MESSAGE = "expected a service name: letters, digits, '@', '.', '_', ':' or '-', starting with a letter or digit";
const int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));

export const ConfigSchema = v.object({
  /** The only services an instruction may touch, exactly as the manager names them. */
  allowed_services: v.pipe(v.array(v.pipe(v.string(), v.regex(SERVICE_NAME, NAME_MESSAGE))), v.minLength(1, "list at least one service")),
  /** Operations an instruction may ask for. */
  allowed_operations: v.optional(v.array(v.picklist(OPERATIONS)), () => [...OPERATIONS]),
  /** Which manager; auto = the first of this OS's managers found on PATH. */
  manager: v.optional(v.picklist(["auto", ...MANAGERS]), "auto"),
  /** Absolute path of the manager's executable instead of a PATH lookup; needs manager set. */
  binary_path: v.optional(v.pipe(v.string(), v.check((path) => path === "" || /^(\/|[A-Za-z]:\\)/.test(path), "expected an absolute path")), ""),
  /** launchctl only: the domain of the labels. */
  launchctl_domain: v.optional(v.pipe(v.string(), v.regex(/^(?:system|gui\/\d+|user\/\d+)$/, "expected system, gui/<uid> or user/<uid>")), "system"),
  /** Deadline of each manager command. */
  command_timeout_ms: v.optional(int(1000, 300_000), 30_000),
  /** How long the state may take to settle after a change; 0 = check once. */
  verify_timeout_ms: v.optional(int(0, 300_000), 10_000),
  /** Pause between state checks while it settles. */
  verify_interval_ms: v.optional(int(50, 10_000), 500),
});

export type ServiceConfig = v.InferOutput<typeof ConfigSchema>;

export const ParametersSchema = v.strictObject(
  {
    service: v.pipe(v.string("expected a service name"), v.regex(SERVICE_NAME, NAME_MESSAGE)),
    operation: v.optional(v.picklist(OPERATIONS, `expected one of ${OPERATIONS.join(", ")}`), "restart"),
  },
  (issue) => (issue.expected === "never" ? "unknown parameter (the manager and its binary come from the agent's config)" : "expected a mapping with service"),
);
