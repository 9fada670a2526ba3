import { t } from "./i18n";

// The API's one error shape: {"error": {"code", "message", "details"}}.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }

  /** Field name -> messages (validation details), flattened to strings. */
  fieldMessages(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [field, value] of Object.entries(this.details)) {
      out[field] = ([] as unknown[]).concat(value).map(String).join(" ");
    }
    return out;
  }
}

export function toApiError(status: number, body: unknown, headers?: Headers): ApiError {
  const retry = headers?.get("Retry-After");
  const retryAfter = retry && /^\d+$/.test(retry) ? Number(retry) : null;
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  if (error && typeof error.code === "string") {
    const details = error.details && typeof error.details === "object" ? (error.details as Record<string, unknown>) : {};
    return new ApiError(status, error.code, String(error.message ?? error.code), details, retryAfter);
  }
  return new ApiError(status, status === 0 ? "network" : "http_error", status === 0 ? t("common.networkError") : `HTTP ${status}`, {}, retryAfter);
}

/** What to tell a person about a failed call: lockout and rate limits get their own words. */
export function describeError(error: unknown): string {
  if (!(error instanceof ApiError)) return t("common.networkError");
  if (error.code === "locked_out") {
    return t("login.lockedOut", { minutes: Math.max(1, Math.ceil((error.retryAfter ?? 60) / 60)) });
  }
  if (error.status === 429) return t("login.throttled", { seconds: error.retryAfter ?? 60 });
  const fields = Object.entries(error.fieldMessages())
    .map(([field, text]) => `${field}: ${text}`)
    .join(" ");
  return fields ? `${error.message} ${fields}` : error.message;
}
