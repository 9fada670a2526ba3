import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { lazy, Suspense } from "react";
import { BrowserRouter, Navigate, Route, Routes } from "react-router-dom";
import { Layout } from "./components/Layout";
import { LoginPage } from "./features/auth/LoginPage";
import { SurveyListPage } from "./features/surveys/SurveyListPage";
import { AuthProvider, useAuth } from "./lib/auth";
import { t } from "./lib/i18n";

// The builder, the results (with the chart library) and the team pages load on demand.
const BuilderPage = lazy(() => import("./features/builder/BuilderPage"));
const ResultsPage = lazy(() => import("./features/results/ResultsPage"));
const TeamPage = lazy(() => import("./features/team/TeamPage"));

const queryClient = new QueryClient({
  defaultOptions: { queries: { retry: false, refetchOnWindowFocus: false } },
});

function Routed() {
  const { state } = useAuth();
  if (state.status === "checking") return <p role="status">{t("common.loading")}</p>;
  if (state.status === "anonymous") return <LoginPage />;
  return (
    <Layout>
      <Suspense fallback={<p role="status">{t("common.loading")}</p>}>
        <Routes>
          <Route path="/" element={<Navigate to="/surveys" replace />} />
          <Route path="/surveys" element={<SurveyListPage />} />
          <Route path="/surveys/:id/edit" element={<BuilderPage />} />
          <Route path="/surveys/:id/results" element={<ResultsPage />} />
          <Route path="/team" element={<TeamPage />} />
          <Route path="*" element={<h1>{t("notFound")}</h1>} />
        </Routes>
      </Suspense>
    </Layout>
  );
}

export function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <BrowserRouter basename="/app">
        <AuthProvider>
          <Routed />
        </AuthProvider>
      </BrowserRouter>
    </QueryClientProvider>
  );
}
