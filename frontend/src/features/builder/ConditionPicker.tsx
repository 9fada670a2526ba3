import { t, type MessageKey } from "../../lib/i18n";
import { makeCondition, operatorsFor, valueKind, type Condition, type Question } from "./definition";

interface Props {
  idPrefix: string;
  condition: Condition;
  questions: Question[];
  onChange: (condition: Condition) => void;
}

function opLabel(op: string): string {
  if (op === "contains_any") return "includes";
  return t(`op.${op}` as MessageKey);
}

/** question → operator → value, each a control (never JSON). */
export function ConditionPicker({ idPrefix, condition, questions, onChange }: Props) {
  const question = questions.find((q) => q.id === condition.q);
  const operators = question ? operatorsFor(question.type) : [];
  const kind = question ? valueKind(question.type, condition.op) : "none";
  const label = (q: Question) => q.text || q.id;

  return (
    <div className="picker">
      <div>
        <label htmlFor={`${idPrefix}-q`}>{t("builder.whenQuestion")}</label>
        <select
          id={`${idPrefix}-q`}
          value={condition.q}
          onChange={(e) => {
            const next = questions.find((q) => q.id === e.target.value);
            if (next) onChange(makeCondition(next));
          }}
        >
          {!question && <option value={condition.q}>{t("builder.pickQuestion")}</option>}
          {questions.map((q) => (
            <option key={q.id} value={q.id}>
              {label(q)}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor={`${idPrefix}-op`}>{t("builder.operator")}</label>
        <select
          id={`${idPrefix}-op`}
          value={condition.op}
          onChange={(e) => question && onChange(makeCondition(question, e.target.value))}
        >
          {operators.map((op) => (
            <option key={op} value={op}>
              {opLabel(op)}
            </option>
          ))}
        </select>
      </div>
      {kind !== "none" && question && (
        <div>
          <label htmlFor={`${idPrefix}-value`}>{t("builder.value")}</label>
          {(kind === "choice" || kind === "choices") && (
            <select
              id={`${idPrefix}-value`}
              value={String(kind === "choices" ? ((condition.value as string[] | undefined)?.[0] ?? "") : condition.value ?? "")}
              onChange={(e) =>
                onChange({ ...condition, value: kind === "choices" ? [e.target.value] : e.target.value })
              }
            >
              {(question.choices ?? []).map((c) => (
                <option key={c.id} value={c.id}>
                  {c.text || c.id}
                </option>
              ))}
            </select>
          )}
          {kind === "boolean" && (
            <select
              id={`${idPrefix}-value`}
              value={condition.value ? "yes" : "no"}
              onChange={(e) => onChange({ ...condition, value: e.target.value === "yes" })}
            >
              <option value="yes">Yes</option>
              <option value="no">No</option>
            </select>
          )}
          {kind === "number" && (
            <input
              id={`${idPrefix}-value`}
              type="number"
              value={String(condition.value ?? "")}
              onChange={(e) => onChange({ ...condition, value: e.target.value === "" ? 0 : Number(e.target.value) })}
            />
          )}
          {kind === "text" && (
            <input
              id={`${idPrefix}-value`}
              value={String(condition.value ?? "")}
              onChange={(e) => onChange({ ...condition, value: e.target.value })}
            />
          )}
        </div>
      )}
    </div>
  );
}
