import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { ErrorMessage } from "../../components/ErrorMessage";
import { api, ifMatch, unwrap } from "../../lib/api/client";
import type { components } from "../../lib/api/schema";
import { useCan } from "../../lib/auth";
import { ApiError } from "../../lib/errors";
import { t, type MessageKey } from "../../lib/i18n";
import { ConditionPicker } from "./ConditionPicker";
import * as d from "./definition";

type Diagnostics = components["schemas"]["SurveyValidationOutput"];
type CompileError = components["schemas"]["CompileErrorOutput"];
type Publication = components["schemas"]["PublicationOutput"];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function errorsAt(diagnostics: Diagnostics | null, where: { page?: string; question?: string }): CompileError[] {
  return (diagnostics?.errors ?? []).filter((e) =>
    where.question ? e.location.question === where.question : e.location.page === where.page && !e.location.question,
  );
}

function Problems({ id, errors }: { id: string; errors: CompileError[] }) {
  if (!errors.length) return null;
  return (
    <ul className="problems" id={id}>
      {errors.map((e, i) => (
        <li key={i}>{e.message}</li>
      ))}
    </ul>
  );
}

export default function BuilderPage() {
  const surveyId = Number(useParams().id);
  const can = useCan();
  const editable = can("survey.edit");
  const queryClient = useQueryClient();
  const survey = useQuery({
    queryKey: ["survey", surveyId],
    queryFn: () => unwrap(api.GET("/api/v1/surveys/{id}/", { params: { path: { id: surveyId } } })),
  });
  const [definition, setDefinition] = useState<d.Definition | null>(null);
  const [revision, setRevision] = useState(0);
  const [dirty, setDirty] = useState(false);
  const [saving, setSaving] = useState(false);
  const [conflict, setConflict] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [diagnostics, setDiagnostics] = useState<Diagnostics | null>(null);
  const [publication, setPublication] = useState<Publication | null>(null);
  const [publishing, setPublishing] = useState(false);

  useEffect(() => {
    if (survey.data && definition === null) {
      setDefinition(survey.data.definition as d.Definition);
      setRevision(survey.data.revision);
    }
  }, [survey.data, definition]);

  if (survey.isPending) return <p role="status">{t("common.loading")}</p>;
  if (survey.error || !survey.data) return <ErrorMessage error={survey.error} />;
  if (!definition) return <p role="status">{t("common.loading")}</p>;
  const title = survey.data.title;

  const edit = (next: d.Definition) => {
    setDefinition(next);
    setDirty(true);
  };

  async function save(): Promise<boolean> {
    if (!definition) return false;
    setSaving(true);
    setError(null);
    try {
      const saved = await unwrap(
        api.PUT("/api/v1/surveys/{id}/definition/", {
          params: { path: { id: surveyId } },
          body: definition,
          headers: ifMatch(revision),
        }),
      );
      setRevision(saved.revision);
      setDiagnostics(saved.diagnostics);
      setDirty(false);
      void queryClient.invalidateQueries({ queryKey: ["surveys"] });
      return true;
    } catch (caught) {
      if (caught instanceof ApiError && (caught.status === 412 || caught.status === 409)) setConflict(true);
      else setError(caught);
      return false;
    } finally {
      setSaving(false);
    }
  }

  async function publish() {
    setPublishing(true);
    setPublication(null);
    setError(null);
    try {
      if (dirty && !(await save())) return;
      let current = await unwrap(api.POST("/api/v1/surveys/{id}/publish/", { params: { path: { id: surveyId } } }));
      for (let i = 0; current.status === "pending" && i < 120; i++) {
        await sleep(500);
        current = await unwrap(
          api.GET("/api/v1/surveys/{id}/publications/{publication_id}/", {
            params: { path: { id: surveyId, publication_id: current.id } },
          }),
        );
      }
      setPublication(current);
      if (current.status !== "published" && Array.isArray(current.errors)) {
        setDiagnostics({ valid: false, errors: current.errors as CompileError[] });
      }
      void queryClient.invalidateQueries({ queryKey: ["surveys"] });
    } catch (caught) {
      setError(caught);
    } finally {
      setPublishing(false);
    }
  }

  const link = `${location.origin}/s/${survey.data.public_link}`;

  return (
    <>
      <h1>{t("builder.title", { title })}</h1>
      {!editable && <p>{t("builder.readOnly")}</p>}
      <div className="toolbar" role="toolbar" aria-label={title}>
        {editable && (
          <button type="button" onClick={() => void save()} disabled={saving || conflict}>
            {saving ? t("common.saving") : t("common.save")}
          </button>
        )}
        {can("survey.publish") && (
          <button type="button" onClick={() => void publish()} disabled={publishing || conflict}>
            {publishing ? t("builder.publishing") : t("builder.publish")}
          </button>
        )}
        {can("analytics.view") && <Link to={`/surveys/${surveyId}/results`}>{t("builder.results")}</Link>}
        <span role="status" className="save-state">
          {dirty ? t("common.unsaved") : t("common.saved")}
        </span>
      </div>
      {conflict && (
        <div className="conflict" role="alert">
          <p>{t("builder.conflict")}</p>
          <button type="button" onClick={() => location.reload()}>
            {t("common.reload")}
          </button>
        </div>
      )}
      <ErrorMessage error={error} />
      {publication?.status === "published" && (
        <p className="ok" role="status">
          {t("builder.published", { version: publication.version ?? "", link })}
        </p>
      )}
      {publication && publication.status !== "published" && (
        <p className="error" role="alert">
          {t("builder.publishFailed")}
        </p>
      )}
      {diagnostics && (
        <section aria-labelledby="diagnostics-heading" className="card">
          <h2 id="diagnostics-heading">{t("builder.diagnostics")}</h2>
          {diagnostics.errors.length === 0 ? (
            <p>{t("builder.noDiagnostics")}</p>
          ) : (
            <ul className="problems">
              {diagnostics.errors.map((e, i) => (
                <li key={i}>{e.message}</li>
              ))}
            </ul>
          )}
        </section>
      )}
      <fieldset disabled={!editable} className="plain">
        {definition.pages.map((page, pageIndex) => (
          <PageEditor
            key={page.id}
            definition={definition}
            page={page}
            index={pageIndex}
            diagnostics={diagnostics}
            onChange={edit}
          />
        ))}
        {editable && (
          <button type="button" onClick={() => edit(d.addPage(definition))}>
            {t("builder.addPage")}
          </button>
        )}
      </fieldset>
    </>
  );
}

interface PageProps {
  definition: d.Definition;
  page: d.Page;
  index: number;
  diagnostics: Diagnostics | null;
  onChange: (definition: d.Definition) => void;
}

function PageEditor({ definition, page, index, diagnostics, onChange }: PageProps) {
  const n = index + 1;
  const questions = page.questions ?? [];
  const later = definition.pages.slice(index + 1);
  const askable = d.questionsBefore(definition, null, page.id);
  const problems = errorsAt(diagnostics, { page: page.id });
  return (
    <section className="page card" aria-labelledby={`${page.id}-heading`}>
      <div className="row">
        <h2 id={`${page.id}-heading`}>{t("builder.page", { n })}</h2>
        <div className="row-actions">
          <button type="button" className="icon" aria-label={t("builder.movePageUp", { n })} disabled={index === 0}
            onClick={() => onChange(d.movePage(definition, index, -1))}>↑</button>
          <button type="button" className="icon" aria-label={t("builder.movePageDown", { n })}
            disabled={index === definition.pages.length - 1} onClick={() => onChange(d.movePage(definition, index, 1))}>↓</button>
          <button type="button" className="danger" aria-label={t("builder.deletePage", { n })}
            onClick={() => onChange(d.deletePage(definition, page.id))}>{t("common.delete")}</button>
        </div>
      </div>
      <label htmlFor={`${page.id}-title`}>{t("builder.pageTitle", { n })}</label>
      <input id={`${page.id}-title`} value={page.title ?? ""} aria-describedby={problems.length ? `${page.id}-problems` : undefined}
        onChange={(e) => onChange(d.updatePage(definition, page.id, { title: e.target.value }))} />
      <Problems id={`${page.id}-problems`} errors={problems} />
      {questions.length === 0 && <p className="muted">{t("builder.noQuestions")}</p>}
      {questions.map((question, qIndex) => (
        <QuestionEditor key={question.id} definition={definition} page={page} question={question} index={qIndex}
          diagnostics={diagnostics} onChange={onChange} />
      ))}
      <button type="button" onClick={() => onChange(d.addQuestion(definition, page.id))}>
        {t("builder.addQuestion", { n })}
      </button>
      <fieldset className="rules">
        <legend>{t("builder.skipRules")}</legend>
        {(page.rules ?? []).map((rule, ruleIndex) => {
          const when = d.asCondition(rule.when);
          const target = d.skipTarget(rule);
          const rn = ruleIndex + 1;
          return (
            <div className="rule" key={rule.id} role="group" aria-label={t("builder.skipRule", { n: rn })}>
              {when && (
                <ConditionPicker idPrefix={`${rule.id}`} condition={when} questions={askable}
                  onChange={(c) => onChange(d.updateSkipRule(definition, page.id, rule.id, { when: c }))} />
              )}
              <div>
                <label htmlFor={`${rule.id}-target`}>{t("builder.goTo")}</label>
                <select id={`${rule.id}-target`} value={target ?? ""}
                  onChange={(e) => onChange(d.updateSkipRule(definition, page.id, rule.id, { target: e.target.value }))}>
                  {later.map((p) => (
                    <option key={p.id} value={p.id}>
                      {p.title || t("builder.page", { n: definition.pages.indexOf(p) + 1 })}
                    </option>
                  ))}
                </select>
              </div>
              <button type="button" className="danger" aria-label={t("builder.removeRule", { n: rn })}
                onClick={() => onChange(d.removeRule(definition, page.id, rule.id))}>{t("common.delete")}</button>
            </div>
          );
        })}
        {askable.length > 0 && later.length > 0 && (
          <button type="button"
            onClick={() => onChange(d.addSkipRule(definition, page.id, askable[askable.length - 1]!, later[later.length - 1]!.id))}>
            {t("builder.addSkipRule", { n })}
          </button>
        )}
      </fieldset>
    </section>
  );
}

interface QuestionProps {
  definition: d.Definition;
  page: d.Page;
  question: d.Question;
  index: number;
  diagnostics: Diagnostics | null;
  onChange: (definition: d.Definition) => void;
}

function QuestionEditor({ definition, page, question, index, diagnostics, onChange }: QuestionProps) {
  const id = question.id;
  // Numbered across the survey, so labels stay unique on the page.
  const n = definition.pages.flatMap((p) => p.questions ?? []).findIndex((q) => q.id === id) + 1;
  const earlier = d.questionsBefore(definition, id, page.id);
  const condition = d.asCondition(question.visible_if);
  const problems = errorsAt(diagnostics, { question: id });
  const count = (page.questions ?? []).length;
  return (
    <div className="question" role="group" aria-label={t("builder.question", { n })}>
      <div className="row">
        <h3>{t("builder.question", { n })}</h3>
        <div className="row-actions">
          <button type="button" className="icon" aria-label={t("builder.moveQuestionUp", { n })} disabled={index === 0}
            onClick={() => onChange(d.moveQuestion(definition, page.id, index, -1))}>↑</button>
          <button type="button" className="icon" aria-label={t("builder.moveQuestionDown", { n })} disabled={index === count - 1}
            onClick={() => onChange(d.moveQuestion(definition, page.id, index, 1))}>↓</button>
          <button type="button" className="danger" aria-label={t("builder.deleteQuestion", { n })}
            onClick={() => onChange(d.deleteQuestion(definition, id))}>{t("common.delete")}</button>
        </div>
      </div>
      <label htmlFor={`${id}-text`}>{t("builder.questionText", { n })}</label>
      <input id={`${id}-text`} value={question.text ?? ""} aria-invalid={problems.length ? true : undefined}
        aria-describedby={problems.length ? `${id}-problems` : undefined}
        onChange={(e) => onChange(d.updateQuestion(definition, id, { text: e.target.value }))} />
      <Problems id={`${id}-problems`} errors={problems} />
      <div className="inline">
        <div>
          <label htmlFor={`${id}-type`}>{t("builder.questionType", { n })}</label>
          <select id={`${id}-type`} value={question.type}
            onChange={(e) => onChange(d.updateQuestion(definition, id, { type: e.target.value as d.QuestionType }))}>
            {d.BUILDER_TYPES.map((type) => (
              <option key={type} value={type}>
                {t(`type.${type}` as MessageKey)}
              </option>
            ))}
          </select>
        </div>
        {question.type !== "statement" && (
          <label className="check">
            <input type="checkbox" checked={Boolean(question.required)}
              onChange={(e) => onChange(d.updateQuestion(definition, id, { required: e.target.checked }))} />
            {t("builder.required")}
          </label>
        )}
      </div>
      {d.hasChoices(question.type) && (
        <fieldset>
          <legend>{t("builder.choices")}</legend>
          {(question.choices ?? []).map((choice, cIndex) => (
            <div className="inline" key={choice.id}>
              <input id={`${id}-choice-${choice.id}`} value={choice.text ?? ""} aria-label={`${t("builder.question", { n })}, ${t("builder.choice", { n: cIndex + 1 })}`}
                onChange={(e) => onChange(d.updateChoice(definition, id, cIndex, e.target.value))} />
              <button type="button" className="icon" aria-label={`${t("builder.question", { n })}, ${t("builder.removeChoice", { n: cIndex + 1 })}`}
                onClick={() => onChange(d.removeChoice(definition, id, cIndex))}>×</button>
            </div>
          ))}
          <button type="button" onClick={() => onChange(d.addChoice(definition, id))}
            aria-label={`${t("builder.question", { n })}, ${t("builder.addChoice")}`}>
            {t("builder.addChoice")}
          </button>
        </fieldset>
      )}
      {earlier.length > 0 && (
        <fieldset>
          <legend>{t("builder.showIfLegend", { n })}</legend>
          <label className="check">
            <input type="checkbox" checked={condition !== null}
              onChange={(e) => onChange(d.setVisibleIf(definition, id, e.target.checked ? d.makeCondition(earlier[earlier.length - 1]!) : null))} />
            {t("builder.showIf")}
          </label>
          {condition && (
            <ConditionPicker idPrefix={`${id}-visible`} condition={condition} questions={earlier}
              onChange={(c) => onChange(d.setVisibleIf(definition, id, c))} />
          )}
        </fieldset>
      )}
    </div>
  );
}
