/** Errors that become failed results; `code` is what the orchestrator sees, the message names the field. */

export class OpError extends Error {
  override name = "OpError";
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** A parameter of the wrong shape: invalid_parameters, naming it. */
export const invalid = (field: string, problem: string) => new OpError("invalid_parameters", `invalid parameter ${field}: ${problem}`);

/** Outside what the agent's local configuration allows. */
export const refused = (message: string) => new OpError("permission_denied", `permission denied: ${message}`);

/** The file system is not in the state the operation needs (exists, missing, not empty). */
export const conflict = (code: "already_exists" | "not_found" | "not_empty" | "wrong_type", message: string) => new OpError(code, message);
