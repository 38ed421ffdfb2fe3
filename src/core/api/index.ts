export { createApiClient, resultKey } from "./client.ts";
export { ApiError, type ApiErrorKind } from "./errors.ts";
export type { ApiClient, ApiClientOptions, ApiState } from "./types.ts";
