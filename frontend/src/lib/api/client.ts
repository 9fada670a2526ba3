import createClient from "openapi-fetch";
import { toApiError } from "../errors";
import type { paths } from "./schema";

// The access token lives in this module's memory only; the refresh token is an httpOnly cookie the
// browser sends to /api/v1/auth/ (JavaScript never sees it). Nothing goes to localStorage.
let accessToken: string | null = null;
let refreshing: Promise<boolean> | null = null;
const listeners = new Set<(token: string | null) => void>();

export function getAccessToken(): string | null {
  return accessToken;
}

export function setAccessToken(token: string | null): void {
  accessToken = token;
  for (const listener of listeners) listener(token);
}

export function onAccessTokenChange(listener: (token: string | null) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

const AUTH_PREFIX = "/api/v1/auth/";
// Cookie-authenticated calls carry this header (the server refuses them without it: CSRF defence).
export const CSRF_HEADERS = { "X-Requested-With": "fetch" } as const;

/** Trade the refresh cookie for a new access token (one call in flight at a time). */
export function refreshAccessToken(fetchImpl: typeof fetch = globalThis.fetch): Promise<boolean> {
  refreshing ??= (async () => {
    try {
      const response = await fetchImpl(new Request(`${location.origin}${AUTH_PREFIX}token/refresh/`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", ...CSRF_HEADERS },
        body: "{}",
      }));
      if (!response.ok) {
        setAccessToken(null);
        return false;
      }
      const body = (await response.json()) as { access: string };
      setAccessToken(body.access);
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** fetch with the bearer token; one 401 triggers one refresh through the cookie and one retry. */
export function makeAuthFetch(fetchImpl: typeof fetch = globalThis.fetch) {
  return async (input: Request): Promise<Response> => {
    const retry = input.clone();
    const send = (request: Request) => {
      if (accessToken && !request.url.includes(AUTH_PREFIX)) request.headers.set("Authorization", `Bearer ${accessToken}`);
      return fetchImpl(request);
    };
    const response = await send(input);
    if (response.status !== 401 || input.url.includes(AUTH_PREFIX) || accessToken === null) return response;
    if (!(await refreshAccessToken(fetchImpl))) return response;
    return send(retry);
  };
}

export function makeClient(fetchImpl: typeof fetch = globalThis.fetch) {
  return createClient<paths>({
    baseUrl: typeof location === "undefined" ? "http://localhost" : location.origin,
    fetch: makeAuthFetch((...args) => fetchImpl(...args)),
    credentials: "same-origin",
  });
}

export const api = makeClient((...args) => globalThis.fetch(...args));

/** Unwrap an openapi-fetch result: the data, or throw the API's error as an ApiError. */
export async function unwrap<T>(
  promise: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await promise;
  } catch {
    throw toApiError(0, null);
  }
  if (!result.response.ok) throw toApiError(result.response.status, result.error, result.response.headers);
  return result.data as T;
}

/** The survey's ETag for If-Match (the revision the edit was based on). */
export function ifMatch(revision: number): { "If-Match": string } {
  return { "If-Match": `"r${revision}"` };
}
