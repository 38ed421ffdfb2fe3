/** The error a plugin gets when it reaches for something its manifest does not grant. */
export function permissionDenied(message: string): Error & { code: string } {
  return Object.assign(new Error(`permission denied: ${message}`), { code: "permission_denied" });
}

/** A bad argument from the plugin (not a permission problem). */
export function badRequest(message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code: "bad_request" });
}
