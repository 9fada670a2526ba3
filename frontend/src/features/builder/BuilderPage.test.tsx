import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import { setAccessToken } from "../../lib/api/client";
import { AuthProvider } from "../../lib/auth";
import BuilderPage from "./BuilderPage";

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

const ME = {
  user: { id: 1, email: "c@x.test" },
  tenant: { slug: "x", name: "X", url: "http://x.localhost/" },
  role: { slug: "survey_creator", name: "Survey Creator" },
  permissions: ["survey.view", "survey.edit"],
};
const SURVEY = {
  id: 7, title: "Pulse", revision: 3, public_link: "abc", status: "draft",
  definition: { pages: [{ id: "p1", title: "Intro", questions: [{ id: "q1", type: "short_text", text: "Name" }] }] },
};

afterEach(() => {
  vi.unstubAllGlobals();
  setAccessToken(null);
});

function mount(onPut: (request: Request) => Response) {
  const puts: Request[] = [];
  vi.stubGlobal("fetch", async (request: Request) => {
    const path = new URL(request.url).pathname;
    if (path.endsWith("/token/refresh/")) return json(200, { access: "a", token_type: "Bearer" });
    if (path === "/api/v1/me/") return json(200, ME);
    if (path === "/api/v1/surveys/7/" && request.method === "GET") return json(200, SURVEY);
    if (path === "/api/v1/surveys/7/definition/" && request.method === "PUT") {
      puts.push(request.clone());
      return onPut(request);
    }
    return json(404, { error: { code: "not_found", message: "No." } });
  });
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <MemoryRouter initialEntries={["/surveys/7/edit"]}>
        <AuthProvider>
          <Routes>
            <Route path="/surveys/:id/edit" element={<BuilderPage />} />
          </Routes>
        </AuthProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return puts;
}

describe("BuilderPage", () => {
  it("saves the definition with the revision it was based on and shows the compiler's diagnostics in place", async () => {
    const user = userEvent.setup();
    const puts = mount(() =>
      json(200, {
        ...SURVEY,
        revision: 4,
        diagnostics: { valid: false, errors: [{ code: "empty", message: "Question q1 needs text.", location: { question: "q1", path: "$" } }] },
      }),
    );
    const text = await screen.findByLabelText("Text of question 1");
    await user.type(text, "!");
    expect(screen.getByText("Unsaved changes.")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Save" }));
    await screen.findByText("All changes saved.");
    expect(puts[0]!.headers.get("If-Match")).toBe('"r3"');
    const body = await puts[0]!.json();
    expect(body.pages[0].questions[0].text).toBe("Name!");
    const question = screen.getByRole("group", { name: "Question 1" });
    expect(within(question).getByText("Question q1 needs text.")).toBeInTheDocument();
    expect(screen.getByLabelText("Text of question 1")).toHaveAttribute("aria-invalid", "true");
    // The next save is based on the new revision.
    await user.type(screen.getByLabelText("Text of question 1"), "?");
    await user.click(screen.getByRole("button", { name: "Save" }));
    await screen.findByText("All changes saved.");
    expect(puts[1]!.headers.get("If-Match")).toBe('"r4"');
  });

  it("shows a conflict on 412 and keeps the edit on screen", async () => {
    const user = userEvent.setup();
    mount(() => json(412, { error: { code: "revision_conflict", message: "Stale." } }));
    await user.type(await screen.findByLabelText("Title of page 1"), " 2");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Someone else changed this survey");
    expect(screen.getByLabelText("Title of page 1")).toHaveValue("Intro 2");
    expect(screen.getByRole("button", { name: "Save" })).toBeDisabled();
  });

  it("hides what the member may not do", async () => {
    mount(() => json(500, {}));
    await screen.findByLabelText("Text of question 1");
    expect(screen.queryByRole("button", { name: "Publish" })).toBeNull(); // no survey.publish
    expect(screen.queryByRole("link", { name: "Results" })).toBeNull(); // no analytics.view
  });
});
