import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";
import { ErrorMessage } from "../../components/ErrorMessage";
import { useCan } from "../../lib/auth";
import { t, type MessageKey } from "../../lib/i18n";
import { useCreateSurvey, useSurveys } from "./api";

export function statusLabel(status: string): string {
  const key = `status.${status}` as MessageKey;
  return key in { "status.draft": 1, "status.published": 1, "status.closed": 1, "status.archived": 1 } ? t(key) : status;
}

export function SurveyListPage() {
  const can = useCan();
  const surveys = useSurveys();
  const create = useCreateSurvey();
  const navigate = useNavigate();
  const [title, setTitle] = useState("");

  async function submit(event: FormEvent) {
    event.preventDefault();
    const survey = await create.mutateAsync(title).catch(() => null);
    if (survey) navigate(`/surveys/${survey.id}/edit`);
  }

  return (
    <>
      <h1>{t("surveys.title")}</h1>
      {surveys.isPending && <p role="status">{t("common.loading")}</p>}
      <ErrorMessage error={surveys.error} />
      {surveys.data?.length === 0 && <p>{t("surveys.empty")}</p>}
      {surveys.data && surveys.data.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("surveys.col.title")}</th>
                <th scope="col">{t("surveys.col.status")}</th>
                <th scope="col">{t("surveys.col.responses")}</th>
                <th scope="col">{t("surveys.col.actions")}</th>
              </tr>
            </thead>
            <tbody>
              {surveys.data.map((survey) => (
                <tr key={survey.id}>
                  <td>{survey.title}</td>
                  <td>
                    <span className={`badge badge-${survey.status}`}>{statusLabel(survey.status)}</span>
                  </td>
                  <td>{survey.response_count}</td>
                  <td className="actions">
                    <Link to={`/surveys/${survey.id}/edit`} aria-label={t("surveys.edit", { title: survey.title })}>
                      {can("survey.edit") ? t("surveys.editLink") : t("surveys.viewLink")}
                    </Link>
                    {can("analytics.view") && (
                      <Link to={`/surveys/${survey.id}/results`} aria-label={t("surveys.results", { title: survey.title })}>
                        {t("builder.results")}
                      </Link>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {can("survey.create") && (
        <form onSubmit={submit} className="card">
          <h2>{t("surveys.create")}</h2>
          <label htmlFor="new-survey-title">{t("surveys.newTitle")}</label>
          <input id="new-survey-title" required maxLength={300} value={title} onChange={(e) => setTitle(e.target.value)} />
          <ErrorMessage error={create.error} />
          <button type="submit" disabled={create.isPending}>
            {t("surveys.createButton")}
          </button>
        </form>
      )}
    </>
  );
}
