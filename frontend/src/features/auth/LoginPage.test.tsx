import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuthProvider } from "../../lib/auth";
import { setAccessToken } from "../../lib/api/client";
import { LoginPage } from "./LoginPage";

function json(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

afterEach(() => {
  vi.unstubAllGlobals();
  setAccessToken(null);
});

async function signIn(respond: (request: Request) => Response) {
  const requests: Request[] = [];
  vi.stubGlobal("fetch", async (input: Request) => {
    requests.push(input.clone());
    const path = new URL(input.url).pathname;
    if (path.endsWith("/token/refresh/")) return json(400, { error: { code: "invalid", message: "no cookie" } });
    if (path === "/api/v1/tenant/") return json(200, { slug: "acme", name: "Acme Ltd", url: "http://acme.localhost/" });
    return respond(input);
  });
  const user = userEvent.setup();
  render(
    <QueryClientProvider client={new QueryClient()}>
      <AuthProvider>
        <LoginPage />
      </AuthProvider>
    </QueryClientProvider>,
  );
  await screen.findByText("to Acme Ltd");
  await user.type(screen.getByLabelText("E-mail"), "ann@example.test");
  await user.type(screen.getByLabelText("Password"), "secret-pass");
  await user.click(screen.getByRole("button", { name: "Sign in" }));
  return requests;
}

describe("LoginPage", () => {
  it("asks for the refresh token as a cookie", async () => {
    const requests = await signIn(() => json(401, { error: { code: "authentication_failed", message: "Invalid email or password." } }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Invalid email or password.");
    const login = requests.find((r) => r.url.endsWith("/api/v1/auth/token/"))!;
    expect(await login.json()).toEqual({ email: "ann@example.test", password: "secret-pass", refresh_transport: "cookie" });
  });

  it("says clearly that the account is locked out (429)", async () => {
    await signIn(() => json(429, { error: { code: "locked_out", message: "Locked" } }, { "Retry-After": "1800" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "Too many failed attempts: sign-in is locked for this account. Try again in 30 minutes.",
    );
  });

  it("says when requests are rate limited", async () => {
    await signIn(() => json(429, { error: { code: "throttled", message: "Slow down" } }, { "Retry-After": "20" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Too many requests. Please wait 20 seconds and try again.");
  });
});
