import { afterEach, describe, expect, it, vi } from "vitest";
import { describeError, toApiError } from "../errors";
import { getAccessToken, ifMatch, makeClient, setAccessToken, unwrap } from "./client";

function json(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

afterEach(() => setAccessToken(null));

describe("api client", () => {
  it("sends the in-memory bearer token and never touches storage", async () => {
    const seen: Request[] = [];
    const client = makeClient(async (input) => {
      seen.push(input as Request);
      return json(200, { id: 1, title: "A" });
    });
    const setItem = vi.spyOn(Storage.prototype, "setItem");
    setAccessToken("token-1");
    await unwrap(client.GET("/api/v1/surveys/{id}/", { params: { path: { id: 1 } } }));
    expect(seen[0]!.headers.get("Authorization")).toBe("Bearer token-1");
    expect(new URL(seen[0]!.url).pathname).toBe("/api/v1/surveys/1/");
    expect(setItem).not.toHaveBeenCalled();
    expect(localStorage.length).toBe(0);
  });

  it("on 401 refreshes through the cookie once (with the CSRF header) and retries", async () => {
    const calls: string[] = [];
    const client = makeClient(async (input) => {
      const request = input as Request;
      const path = new URL(request.url).pathname;
      calls.push(`${request.method} ${path} ${request.headers.get("Authorization") ?? "-"}`);
      if (path === "/api/v1/auth/token/refresh/") {
        expect(request.headers.get("X-Requested-With")).toBe("fetch");
        expect(await request.text()).toBe("{}"); // the refresh token itself is in the httpOnly cookie
        return json(200, { access: "fresh", token_type: "Bearer" });
      }
      if (request.headers.get("Authorization") === "Bearer stale") return json(401, { error: { code: "not_authenticated", message: "expired" } });
      return json(200, []);
    });
    setAccessToken("stale");
    await unwrap(client.GET("/api/v1/surveys/"));
    expect(calls).toEqual([
      "GET /api/v1/surveys/ Bearer stale",
      "POST /api/v1/auth/token/refresh/ -",
      "GET /api/v1/surveys/ Bearer fresh",
    ]);
    expect(getAccessToken()).toBe("fresh");
  });

  it("a failed refresh signs out (token cleared) and surfaces the 401", async () => {
    const client = makeClient(async (input) => {
      const path = new URL((input as Request).url).pathname;
      if (path.endsWith("/refresh/")) return json(401, { error: { code: "authentication_failed", message: "dead" } });
      return json(401, { error: { code: "not_authenticated", message: "Sign in." } });
    });
    setAccessToken("stale");
    await expect(unwrap(client.GET("/api/v1/surveys/"))).rejects.toMatchObject({ status: 401, code: "not_authenticated" });
    expect(getAccessToken()).toBeNull();
  });

  it("turns the API's error shape into an ApiError with Retry-After", async () => {
    const client = makeClient(async () =>
      json(429, { error: { code: "locked_out", message: "Locked." } }, { "Retry-After": "900" }),
    );
    const error = await unwrap(client.POST("/api/v1/auth/token/", { body: { email: "a@b.c", password: "x", refresh_transport: "cookie" } })).catch((e) => e);
    expect(error).toMatchObject({ status: 429, code: "locked_out", retryAfter: 900 });
    expect(describeError(error)).toMatch(/locked.*15 minutes/);
  });

  it("formats validation details and network failures", () => {
    const error = toApiError(400, { error: { code: "invalid", message: "Invalid input.", details: { title: ["Required."] } } });
    expect(describeError(error)).toBe("Invalid input. title: Required.");
    expect(describeError(new TypeError("Failed to fetch"))).toMatch(/network/i);
    expect(describeError(toApiError(429, null, new Headers({ "Retry-After": "7" })))).toMatch(/wait 7 seconds/);
  });

  it("If-Match carries the survey's ETag", () => {
    expect(ifMatch(12)).toEqual({ "If-Match": '"r12"' });
  });
});
