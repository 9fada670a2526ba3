// Pure, immutable edits of a survey definition (the API's DefinitionSchema). The builder never asks anyone
// to type JSON: every change here comes from a button, a field or a picker. Rules are displayed and checked
// by the server's compiler (its diagnostics are shown, never recomputed here).
import type { components } from "../../lib/api/schema";

export type Definition = components["schemas"]["DefinitionSchema"];
export type Page = components["schemas"]["PageSchema"];
export type Question = components["schemas"]["QuestionSchema"];
export type QuestionType = Question["type"];
export type Choice = components["schemas"]["ChoiceSchema"];
export type Rule = components["schemas"]["RuleSchema"];

/** The condition form the pickers build: question → operator → value. */
export interface Condition {
  q: string;
  op: string;
  value?: unknown;
}

export const BUILDER_TYPES = [
  "short_text",
  "long_text",
  "email",
  "number",
  "rating",
  "nps",
  "single_choice",
  "dropdown",
  "multiple_choice",
  "yes_no",
  "date",
  "statement",
] as const satisfies readonly QuestionType[];

const CHOICE_TYPES: ReadonlySet<string> = new Set(["single_choice", "dropdown", "multiple_choice", "ranking"]);
const NUMBER_TYPES: ReadonlySet<string> = new Set(["number", "rating", "nps"]);

export function hasChoices(type: string): boolean {
  return CHOICE_TYPES.has(type);
}

export type ValueKind = "choice" | "choices" | "boolean" | "number" | "text" | "none";

/** The operators the picker offers for a question of this type, and what kind of value each needs. */
export function operatorsFor(type: string): string[] {
  if (type === "multiple_choice" || type === "ranking") return ["contains_any", "is_answered", "is_empty"];
  if (CHOICE_TYPES.has(type) || type === "yes_no") return ["equals", "not_equals", "is_answered", "is_empty"];
  if (NUMBER_TYPES.has(type)) return ["equals", "not_equals", "gt", "gte", "lt", "lte", "is_answered", "is_empty"];
  if (type === "statement") return [];
  return ["equals", "not_equals", "contains", "is_answered", "is_empty"];
}

export function valueKind(type: string, op: string): ValueKind {
  if (op === "is_answered" || op === "is_empty") return "none";
  if (op === "contains_any") return "choices";
  if (CHOICE_TYPES.has(type)) return "choice";
  if (type === "yes_no") return "boolean";
  if (NUMBER_TYPES.has(type)) return "number";
  return "text";
}

/** A value that fits the operator (the first choice, zero, empty text), so a condition is never half-built. */
export function defaultValue(question: Question, op: string): unknown {
  const kind = valueKind(question.type, op);
  const first = question.choices?.[0]?.id ?? "";
  switch (kind) {
    case "none":
      return undefined;
    case "choices":
      return first ? [first] : [];
    case "choice":
      return first;
    case "boolean":
      return true;
    case "number":
      return 0;
    default:
      return "";
  }
}

export function makeCondition(question: Question, op?: string): Condition {
  const chosen = op ?? operatorsFor(question.type)[0] ?? "is_answered";
  const value = defaultValue(question, chosen);
  return value === undefined ? { q: question.id, op: chosen } : { q: question.id, op: chosen, value };
}

export function asCondition(raw: unknown): Condition | null {
  if (raw && typeof raw === "object" && "q" in raw && "op" in raw) {
    const { q, op } = raw as { q: unknown; op: unknown };
    if (typeof q === "string" && typeof op === "string") return raw as Condition;
  }
  return null;
}

// --- ids -------------------------------------------------------------------------------------------

function allIds(definition: Definition): Set<string> {
  const ids = new Set<string>();
  for (const page of definition.pages) {
    ids.add(page.id);
    for (const question of page.questions ?? []) {
      ids.add(question.id);
      for (const choice of question.choices ?? []) ids.add(`${question.id}.${choice.id}`);
    }
    for (const rule of page.rules ?? []) ids.add(rule.id);
  }
  return ids;
}

export function newId(definition: Definition, prefix: string): string {
  const ids = allIds(definition);
  for (let n = 1; ; n++) if (!ids.has(`${prefix}${n}`)) return `${prefix}${n}`;
}

// --- pages -----------------------------------------------------------------------------------------

function move<T>(items: readonly T[], index: number, delta: number): T[] {
  const target = index + delta;
  if (target < 0 || target >= items.length) return [...items];
  const copy = [...items];
  const [item] = copy.splice(index, 1);
  copy.splice(target, 0, item as T);
  return copy;
}

export function addPage(definition: Definition): Definition {
  const page: Page = { id: newId(definition, "p"), title: "", questions: [] };
  return { ...definition, pages: [...definition.pages, page] };
}

export function updatePage(definition: Definition, pageId: string, changes: Partial<Page>): Definition {
  return { ...definition, pages: definition.pages.map((p) => (p.id === pageId ? { ...p, ...changes } : p)) };
}

export function movePage(definition: Definition, index: number, delta: number): Definition {
  return { ...definition, pages: move(definition.pages, index, delta) };
}

export function deletePage(definition: Definition, pageId: string): Definition {
  const page = definition.pages.find((p) => p.id === pageId);
  let next: Definition = { ...definition, pages: definition.pages.filter((p) => p.id !== pageId) };
  for (const question of page?.questions ?? []) next = forgetQuestion(next, question.id);
  // Skip rules that jumped to the deleted page go with it.
  return {
    ...next,
    pages: next.pages.map((p) => ({ ...p, rules: (p.rules ?? []).filter((r) => skipTarget(r) !== pageId) })),
  };
}

// --- questions -------------------------------------------------------------------------------------

export function findQuestion(definition: Definition, questionId: string): Question | undefined {
  for (const page of definition.pages) for (const q of page.questions ?? []) if (q.id === questionId) return q;
  return undefined;
}

export function addQuestion(definition: Definition, pageId: string, type: QuestionType = "short_text"): Definition {
  const id = newId(definition, "q");
  const question: Question = { id, type, text: "", required: false };
  if (hasChoices(type)) question.choices = [{ id: "c1", text: "" }];
  return mapPage(definition, pageId, (p) => ({ ...p, questions: [...(p.questions ?? []), question] }));
}

export function updateQuestion(definition: Definition, questionId: string, changes: Partial<Question>): Definition {
  return mapQuestion(definition, questionId, (q) => {
    const next: Question = { ...q, ...changes };
    if (changes.type && changes.type !== q.type) {
      if (hasChoices(changes.type) && !next.choices?.length) next.choices = [{ id: "c1", text: "" }];
      if (!hasChoices(changes.type)) delete next.choices;
    }
    return next;
  });
}

export function moveQuestion(definition: Definition, pageId: string, index: number, delta: number): Definition {
  return mapPage(definition, pageId, (p) => ({ ...p, questions: move(p.questions ?? [], index, delta) }));
}

export function deleteQuestion(definition: Definition, questionId: string): Definition {
  const without = {
    ...definition,
    pages: definition.pages.map((p) => ({ ...p, questions: (p.questions ?? []).filter((q) => q.id !== questionId) })),
  };
  return forgetQuestion(without, questionId);
}

/** Conditions naming a question that is gone are removed with it (never left dangling). */
function forgetQuestion(definition: Definition, questionId: string): Definition {
  return {
    ...definition,
    pages: definition.pages.map((p) => ({
      ...p,
      rules: (p.rules ?? []).filter((r) => asCondition(r.when)?.q !== questionId),
      questions: (p.questions ?? []).map((q) => {
        if (asCondition(q.visible_if)?.q !== questionId) return q;
        const copy = { ...q };
        delete copy.visible_if;
        return copy;
      }),
    })),
  };
}

// --- choices ---------------------------------------------------------------------------------------

export function addChoice(definition: Definition, questionId: string): Definition {
  return mapQuestion(definition, questionId, (q) => {
    const taken = new Set((q.choices ?? []).map((c) => c.id));
    let n = 1;
    while (taken.has(`c${n}`)) n++;
    return { ...q, choices: [...(q.choices ?? []), { id: `c${n}`, text: "" }] };
  });
}

export function updateChoice(definition: Definition, questionId: string, index: number, text: string): Definition {
  return mapQuestion(definition, questionId, (q) => ({
    ...q,
    choices: (q.choices ?? []).map((c, i) => (i === index ? { ...c, text } : c)),
  }));
}

export function removeChoice(definition: Definition, questionId: string, index: number): Definition {
  return mapQuestion(definition, questionId, (q) => ({ ...q, choices: (q.choices ?? []).filter((_, i) => i !== index) }));
}

// --- logic -----------------------------------------------------------------------------------------

export function setVisibleIf(definition: Definition, questionId: string, condition: Condition | null): Definition {
  return mapQuestion(definition, questionId, (q) => {
    const copy = { ...q };
    if (condition) copy.visible_if = condition;
    else delete copy.visible_if;
    return copy;
  });
}

export function skipTarget(rule: Rule): string | undefined {
  const action = rule.then[0] as { type?: string; page?: string } | undefined;
  return action?.type === "skip_to" ? action.page : undefined;
}

export function addSkipRule(definition: Definition, pageId: string, question: Question, target: string): Definition {
  const rule: Rule = { id: newId(definition, "r"), when: makeCondition(question), then: [{ type: "skip_to", page: target }] };
  return mapPage(definition, pageId, (p) => ({ ...p, rules: [...(p.rules ?? []), rule] }));
}

export function updateSkipRule(
  definition: Definition,
  pageId: string,
  ruleId: string,
  changes: { when?: Condition; target?: string },
): Definition {
  return mapPage(definition, pageId, (p) => ({
    ...p,
    rules: (p.rules ?? []).map((r) =>
      r.id !== ruleId
        ? r
        : {
            ...r,
            when: changes.when ?? r.when,
            then: changes.target ? [{ type: "skip_to", page: changes.target }] : r.then,
          },
    ),
  }));
}

export function removeRule(definition: Definition, pageId: string, ruleId: string): Definition {
  return mapPage(definition, pageId, (p) => ({ ...p, rules: (p.rules ?? []).filter((r) => r.id !== ruleId) }));
}

/** The questions a condition on (page, question) may name: those asked before it. */
export function questionsBefore(definition: Definition, questionId: string | null, pageId: string): Question[] {
  const out: Question[] = [];
  for (const page of definition.pages) {
    for (const q of page.questions ?? []) {
      if (q.id === questionId) return out;
      if (q.type !== "statement") out.push(q);
    }
    if (page.id === pageId && questionId === null) return out;
  }
  return out;
}

// --- helpers ---------------------------------------------------------------------------------------

function mapPage(definition: Definition, pageId: string, fn: (page: Page) => Page): Definition {
  return { ...definition, pages: definition.pages.map((p) => (p.id === pageId ? fn(p) : p)) };
}

function mapQuestion(definition: Definition, questionId: string, fn: (q: Question) => Question): Definition {
  return {
    ...definition,
    pages: definition.pages.map((p) => ({
      ...p,
      questions: (p.questions ?? []).map((q) => (q.id === questionId ? fn(q) : q)),
    })),
  };
}
