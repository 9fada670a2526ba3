import { useQuery } from "@tanstack/react-query";
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { useParams } from "react-router-dom";
import { ErrorMessage } from "../../components/ErrorMessage";
import { api, unwrap } from "../../lib/api/client";
import type { components } from "../../lib/api/schema";
import { t } from "../../lib/i18n";

type QuestionResult = components["schemas"]["QuestionOutput"];

// One analytics call per view (no waterfall), refreshed every 5 s while the page is open.
export default function ResultsPage() {
  const surveyId = Number(useParams().id);
  const survey = useQuery({
    queryKey: ["survey", surveyId],
    queryFn: () => unwrap(api.GET("/api/v1/surveys/{id}/", { params: { path: { id: surveyId } } })),
  });
  const summary = useQuery({
    queryKey: ["analytics", surveyId],
    queryFn: () => unwrap(api.GET("/api/v1/surveys/{id}/analytics/", { params: { path: { id: surveyId } } })),
    refetchInterval: 5000,
  });
  const title = survey.data?.title ?? "";
  return (
    <>
      <h1>{t("results.title", { title })}</h1>
      <ErrorMessage error={summary.error ?? survey.error} />
      {summary.isPending && <p role="status">{t("common.loading")}</p>}
      {summary.data && (
        <>
          <p className="big" data-testid="response-count" role="status">
            {t("results.responses", { count: summary.data.totals.responses })}
          </p>
          <p className="muted">{t("results.refreshing")}</p>
          {summary.data.questions.map((question) => (
            <QuestionChart key={question.id} question={question} />
          ))}
        </>
      )}
    </>
  );
}

function QuestionChart({ question }: { question: QuestionResult }) {
  const headingId = `result-${question.id}`;
  let rows: { label: string; count: number }[] = [];
  if (question.choices) rows = question.choices.map((c) => ({ label: c.text || c.id, count: c.count }));
  else if (question.distribution) rows = question.distribution.map((v) => ({ label: String(v.value), count: v.count }));
  return (
    <section className="card" aria-labelledby={headingId}>
      <h2 id={headingId}>{question.text || question.id}</h2>
      <p className="muted">{t("results.answered", { count: question.answered })}</p>
      {question.nps && question.nps.score !== null && <p className="big">{t("results.npsScore", { score: question.nps.score })}</p>}
      {rows.length > 0 && (
        <>
          <div className="chart" aria-hidden="true">
            <ResponsiveContainer width="100%" height={Math.max(120, rows.length * 36)}>
              <BarChart data={rows} layout="vertical" margin={{ left: 24, right: 24 }} accessibilityLayer={false}>
                <CartesianGrid strokeDasharray="3 3" horizontal={false} />
                <XAxis type="number" allowDecimals={false} />
                <YAxis type="category" dataKey="label" width={140} />
                <Tooltip />
                <Bar dataKey="count" fill="#3b4fc4" isAnimationActive={false} />
              </BarChart>
            </ResponsiveContainer>
          </div>
          <table className="sr-table">
            <caption className="sr-only">{question.text}</caption>
            <tbody>
              {rows.map((row) => (
                <tr key={row.label}>
                  <th scope="row">{row.label}</th>
                  <td>{row.count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {question.top_terms && question.top_terms.length > 0 && (
        <>
          <h3>{t("results.topTerms")}</h3>
          <ul>
            {question.top_terms.slice(0, 10).map((term) => (
              <li key={term.term}>
                {term.term} ({term.count})
              </li>
            ))}
          </ul>
        </>
      )}
      {question.answered === 0 && <p>{t("results.noData")}</p>}
    </section>
  );
}
