// The respondent page's evaluator of the survey rule language: the twin of
// tenant_apps/surveys/logic/evaluator.py (authoritative on submit). See tenant_apps/surveys/logic/SPEC.md.
// Both must give the same result for every case in tenant_apps/surveys/logic/vectors.json
// (logic.test.mjs beside this file runs them; tests/tenant_apps/surveys/logic/test_crosscheck.py compares the
// two evaluators on random surveys the compiler accepts).
//
// A plain ES module: no build step, no dependencies; runs in browsers and in Node >= 20.
//
// The contract covers definitions the compiler accepts (published versions): their structure is checked, so
// this file reads them directly. Regular expressions are of the subset SPEC.md defines, which means the same
// in Python (after the server's translation) and here with the `u` flag, except `\s`/`\S`: ASCII whitespace
// in the rule language, spelled out below.

export const OTHER = "__other__";

const hasOwn = (obj, key) => Object.prototype.hasOwnProperty.call(obj, key);
const isList = (v) => Array.isArray(v);
const isDict = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const isNumber = (v) => typeof v === "number" && Number.isFinite(v);

/** Truthiness of a JSON value as the server reads settings (0, "", [], {}, null and false are false). */
function truthy(v) {
  if (v === null || v === undefined || v === false) return false;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "string" || isList(v)) return v.length > 0;
  if (isDict(v)) return Object.keys(v).length > 0;
  return true;
}

/** `obj[key]` when obj is a JSON object that has it, else the fallback. */
function get(obj, key, fallback = null) {
  return isDict(obj) && typeof key === "string" && hasOwn(obj, key) ? obj[key] : fallback;
}

// --- values -------------------------------------------------------------------------------------

export function isEmpty(value) {
  return (
    value === null ||
    value === undefined ||
    value === "" ||
    (isList(value) && value.length === 0) ||
    (isDict(value) && Object.keys(value).length === 0)
  );
}

export function jsonEquals(a, b) {
  if (isNumber(a) && isNumber(b)) return a === b;
  if (typeof a === "boolean" || typeof b === "boolean") {
    return typeof a === "boolean" && typeof b === "boolean" && a === b;
  }
  if (typeof a === "string" && typeof b === "string") return a === b;
  if (isList(a) && isList(b)) {
    return a.every((x) => b.some((y) => jsonEquals(x, y))) && b.every((y) => a.some((x) => jsonEquals(y, x)));
  }
  if (isDict(a) && isDict(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => hasOwn(b, k)) && ka.every((k) => jsonEquals(a[k], b[k]));
  }
  return (a === null || a === undefined) && (b === null || b === undefined);
}

function asList(value) {
  if (isList(value)) return value;
  return isEmpty(value) ? [] : [value];
}

const isHighSurrogate = (u) => u >= 0xd800 && u <= 0xdbff;
const isLowSurrogate = (u) => u >= 0xdc00 && u <= 0xdfff;

/** `needle in hay` by code points (a match may not split a surrogate pair). */
function includesCodePoints(hay, needle) {
  if (needle === "") return true;
  for (let i = hay.indexOf(needle); i !== -1; i = hay.indexOf(needle, i + 1)) {
    const end = i + needle.length;
    const splitsStart = i > 0 && isHighSurrogate(hay.charCodeAt(i - 1)) && isLowSurrogate(hay.charCodeAt(i));
    const splitsEnd =
      end < hay.length && isHighSurrogate(hay.charCodeAt(end - 1)) && isLowSurrogate(hay.charCodeAt(end));
    if (!splitsStart && !splitsEnd) return true;
  }
  return false;
}

// --- regular expressions (the subset of SPEC.md; the compiler refuses the rest) ----------------------

const ASCII_SPACE = "\\t-\\r ";
const regexCache = new Map();

/** The pattern with `\s` and `\S` as ASCII whitespace; everything else of the subset is ECMAScript as is. */
function asciiSpaces(pattern) {
  let out = "";
  let inClass = false;
  for (let i = 0; i < pattern.length; i += 1) {
    const c = pattern[i];
    if (c === "\\" && i + 1 < pattern.length) {
      const e = pattern[(i += 1)];
      if (e === "s") out += inClass ? ASCII_SPACE : `[${ASCII_SPACE}]`;
      else if (e === "S") out += `[^${ASCII_SPACE}]`; // the subset has no \S inside [...]
      else out += c + e;
    } else {
      if (c === "[") inClass = true;
      else if (c === "]") inClass = false;
      out += c;
    }
  }
  return out;
}

/** Whether `pattern` matches somewhere in `text` (false when the pattern is not a valid expression). */
export function regexSearch(pattern, text) {
  if (!regexCache.has(pattern)) {
    let regexp = null;
    try {
      regexp = new RegExp(asciiSpaces(pattern), "u");
    } catch {
      // outside the subset (the compiler refuses it): never matches
    }
    regexCache.set(pattern, regexp);
  }
  const regexp = regexCache.get(pattern);
  return regexp !== null && regexp.test(text);
}

// YYYY-MM-DD exactly, and piping placeholders (spaces only around the id)
const DATE_RE = /^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$/;
const PIPE_RE = /\{\{ *(var\.)?([A-Za-z][A-Za-z0-9_]{0,63}) *(?:\|([^}]*))?\}\}/gu;

// --- comparisons ----------------------------------------------------------------------------------

export function compare(op, left, right) {
  if (left === undefined) left = null;
  if (right === undefined) right = null;
  switch (op) {
    case "is_empty":
      return isEmpty(left);
    case "is_answered":
      return !isEmpty(left);
    case "equals":
      return !isEmpty(left) && jsonEquals(left, right);
    case "not_equals":
      return !(!isEmpty(left) && jsonEquals(left, right));
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      if (!(isNumber(left) && isNumber(right))) return false;
      return { gt: left > right, gte: left >= right, lt: left < right, lte: left <= right }[op];
    case "between":
      return (
        isNumber(left) &&
        isList(right) &&
        right.length === 2 &&
        right.every(isNumber) &&
        right[0] <= left &&
        left <= right[1]
      );
    case "in":
      return isList(right) && !isList(left) && !isEmpty(left) && right.some((item) => jsonEquals(left, item));
    case "contains":
      if (typeof left === "string" && typeof right === "string") return includesCodePoints(left, right);
      return isList(left) && left.some((item) => jsonEquals(item, right));
    case "contains_any": {
      const items = asList(left);
      return isList(right) && items.some((a) => right.some((b) => jsonEquals(a, b)));
    }
    case "contains_all": {
      const items = asList(left);
      return isList(right) && items.length > 0 && right.every((b) => items.some((a) => jsonEquals(a, b)));
    }
    case "matches":
      return typeof left === "string" && typeof right === "string" && regexSearch(right, left);
    case "date_before":
    case "date_after": {
      if (!(typeof left === "string" && typeof right === "string" && DATE_RE.test(left) && DATE_RE.test(right))) {
        return false;
      }
      return op === "date_before" ? left < right : left > right; // ASCII only
    }
    default:
      return false;
  }
}

// --- numbers --------------------------------------------------------------------------------------

/** Piped numbers: an integral value in full ("30", "1000000000000000000000"), else the shortest round trip
 * (exponent form below 1e-4, as the server prints it: "1e-05"). */
export function formatNumber(value) {
  if (Number.isInteger(value)) {
    return Math.abs(value) < 2 ** 53 ? String(value === 0 ? 0 : value) : BigInt(value).toString();
  }
  if (!Number.isFinite(value)) return Number.isNaN(value) ? "nan" : value > 0 ? "inf" : "-inf";
  const text = String(value);
  if (Math.abs(value) >= 1e-4) return text; // fixed notation in both (non-integral floats are below 2**53)
  const sign = value < 0 ? "-" : "";
  const unsigned = text.replace(/^-/, "");
  let digits;
  let exponent;
  if (unsigned.includes("e")) {
    const [mantissa, exp] = unsigned.split("e");
    digits = mantissa.replace(".", "");
    exponent = Number(exp);
  } else {
    const fraction = unsigned.split(".")[1]; // 0.0000ddd
    const zeros = fraction.match(/^0*/)[0].length;
    digits = fraction.slice(zeros);
    exponent = -(zeros + 1);
  }
  const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${mantissa}e${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
}

const POWERS_OF_TEN = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

function roundHalfAwayFromZero(x, digits) {
  if (!Number.isFinite(x)) return 0;
  const factor = POWERS_OF_TEN[Number.isFinite(digits) ? Math.max(0, Math.min(15, Math.trunc(digits))) : 0];
  const scaled = Math.abs(x) * factor;
  if (!Number.isFinite(scaled)) return 0;
  const rounded = Math.floor(scaled + 0.5) / factor;
  if (rounded === 0) return 0;
  return x < 0 || Object.is(x, -0) ? -rounded : rounded;
}

/** What set_variable stores (not finite, or -0, becomes 0). */
function storedDouble(value) {
  return !Number.isFinite(value) || value === 0 ? 0 : value;
}

// --- evaluation -----------------------------------------------------------------------------------

class State {
  constructor(definition) {
    this.effective = new Map();
    this.variables = new Map();
    for (const v of definition.variables ?? []) this.variables.set(v.id, get(v, "initial", 0));
    this.questions = new Map();
    for (const page of definition.pages ?? []) {
      for (const q of page.questions ?? []) this.questions.set(q.id, q);
    }
  }

  /** The effective answer of a question of the survey; anything else reads as empty. */
  answer(qid) {
    return this.questions.has(qid) ? (this.effective.get(qid) ?? null) : null;
  }

  read(ref) {
    if (hasOwn(ref, "var")) return this.variables.get(ref.var) ?? null;
    const value = this.answer(get(ref, "q", ""));
    if (hasOwn(ref, "row")) return get(value, ref.row);
    return value;
  }

  operand(value) {
    if (isDict(value)) {
      const size = Object.keys(value).length;
      if ((size === 1 || size === 2) && (hasOwn(value, "q") || hasOwn(value, "var"))) return this.read(value);
    }
    return value;
  }

  test(condition) {
    if (condition === null || condition === undefined) return true;
    if (!isDict(condition)) return false;
    if (hasOwn(condition, "all")) return condition.all.every((c) => this.test(c));
    if (hasOwn(condition, "any")) return condition.any.some((c) => this.test(c));
    if (hasOwn(condition, "not")) return !this.test(condition.not);
    return compare(get(condition, "op", ""), this.read(condition), this.operand(get(condition, "value")));
  }

  expr(e) {
    if (isNumber(e)) return e;
    if (!isDict(e) || Object.keys(e).length !== 1) return 0;
    const [[kind, arg]] = Object.entries(e);
    if (kind === "q" || kind === "var") {
      const value = kind === "var" ? this.variables.get(arg) : this.answer(arg);
      return isNumber(value) ? value : 0;
    }
    if (kind === "score") {
      const scores = new Map((this.questions.get(arg)?.choices ?? []).map((c) => [c.id, get(c, "score", 0)]));
      let total = 0;
      for (const cid of asList(this.effective.get(arg) ?? null)) {
        if (typeof cid === "string") total += scores.get(cid) ?? 0;
      }
      return total;
    }
    if (kind === "count") return asList(this.effective.get(arg) ?? null).length;
    const values = isList(arg) ? arg.map((x) => this.expr(x)) : [];
    switch (kind) {
      case "add":
      case "sum":
        return values.reduce((a, b) => a + b, 0);
      case "mul":
        return values.reduce((a, b) => a * b, 1);
      case "sub":
        return values.length === 2 ? values[0] - values[1] : 0;
      case "div":
        return values.length === 2 && values[1] !== 0 ? values[0] / values[1] : 0;
      case "min":
      case "max": {
        // the first extreme item; a NaN is never replaced and never replaces (as on the server)
        if (!values.length) return 0;
        let best = values[0];
        for (const v of values.slice(1)) if (kind === "min" ? v < best : v > best) best = v;
        return best;
      }
      case "round":
        return values.length === 2 ? roundHalfAwayFromZero(values[0], values[1]) : 0;
      default:
        return 0;
    }
  }

  render(qid) {
    const value = this.answer(qid);
    if (isEmpty(value)) return null;
    if (typeof value === "boolean") return value ? "Yes" : "No";
    if (isNumber(value)) return formatNumber(value);
    const choices = this.questions.get(qid)?.choices;
    const labels = new Map((choices ?? []).map((c) => [c.id, get(c, "text", c.id)]));
    const label = (v) => (labels.has(v) ? labels.get(v) : v);
    const other = () => {
      const text = this.effective.get(`${qid}__other`);
      return typeof text === "string" ? text : "";
    };
    if (typeof value === "string") {
      if (value === OTHER) return other() || null;
      return truthy(choices) ? label(value) : value;
    }
    if (isList(value) && value.every((v) => typeof v === "string")) {
      return value.map((v) => (v === OTHER ? other() : label(v))).join(", ");
    }
    return null;
  }

  pipe(text) {
    return text.replace(PIPE_RE, (match, isVar, ident, fallback = "") => {
      if (isVar) {
        const value = this.variables.get(ident);
        return isNumber(value) ? formatNumber(value) : fallback;
      }
      return this.render(ident) ?? fallback;
    });
  }
}

function effectiveChoices(value, hidden) {
  if (!hidden.size) return value;
  if (isList(value)) return value.filter((v) => !hidden.has(v));
  if (typeof value === "string" && hidden.has(value)) return null;
  return value;
}

/**
 * Walks the survey as the respondent would with these answers. The result has the keys of the server's
 * evaluate(): pages, questions, required, hidden_choices, answers, variables, end_screen, texts.
 */
export function evaluate(definition, answers = {}) {
  const state = new State(definition);
  const pages = definition.pages ?? [];
  const index = new Map(pages.map((page, i) => [page.id, i]));
  const endScreens = definition.end_screens ?? [];
  const result = { pages: [], questions: [], required: [], hidden_choices: {} };
  const texts = {};
  let endScreen = endScreens.length ? endScreens[0].id : null;
  let i = 0;
  while (i < pages.length) {
    const page = pages[i];
    i += 1;
    if (!state.test(get(page, "visible_if"))) continue;
    result.pages.push(page.id);
    if (truthy(page.title)) texts[page.id] = state.pipe(page.title);
    for (const question of page.questions ?? []) {
      const qid = question.id;
      if (!state.test(get(question, "visible_if"))) continue;
      result.questions.push(qid);
      if (truthy(question.required) || (truthy(question.required_if) && state.test(question.required_if))) {
        result.required.push(qid);
      }
      const hidden = (question.choices ?? []).filter((c) => !state.test(get(c, "visible_if"))).map((c) => c.id);
      if (hidden.length) result.hidden_choices[qid] = hidden;
      if (truthy(question.text)) texts[qid] = state.pipe(question.text); // before its own answer counts
      let value = effectiveChoices(get(answers, qid), new Set(hidden));
      if (value === OTHER || (isList(value) && value.includes(OTHER))) {
        if (!truthy(question.other)) {
          value = value === OTHER ? null : value.filter((v) => v !== OTHER);
        } else if (!isEmpty(get(answers, `${qid}__other`))) {
          state.effective.set(`${qid}__other`, answers[`${qid}__other`]);
        }
      }
      if (!isEmpty(value)) state.effective.set(qid, value);
    }
    let navigation = null;
    for (const rule of page.rules ?? []) {
      if (!state.test(get(rule, "when"))) continue;
      for (const action of rule.then ?? []) {
        if (action.type === "set_variable") {
          state.variables.set(action.variable, storedDouble(state.expr(get(action, "expr", 0))));
        } else if ((action.type === "skip_to" || action.type === "end_survey") && navigation === null) {
          navigation = action;
        }
      }
    }
    if (navigation !== null) {
      if (navigation.type === "end_survey") {
        endScreen = get(navigation, "end_screen");
        break;
      }
      const target = index.get(get(navigation, "page"));
      if (target !== undefined && target > i - 1) i = target;
    }
  }
  const screen = endScreens.find((s) => s.id === endScreen);
  if (screen !== undefined && truthy(screen.text)) texts[screen.id] = state.pipe(screen.text);
  return {
    ...result,
    answers: Object.fromEntries(state.effective),
    variables: Object.fromEntries(state.variables),
    end_screen: endScreen,
    texts,
  };
}

// --- randomisation --------------------------------------------------------------------------------

export function mulberry32(seed) {
  let state = Number(BigInt(seed) & 0xffffffffn);
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state) >>> 0;
    t = (((t + (Math.imul(t ^ (t >>> 7), 61 | t) >>> 0)) >>> 0) ^ t) >>> 0;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The order a respondent sees, reproducible from a 32-bit unsigned seed (Fisher-Yates, last index down). */
export function shuffle(ids, seed) {
  const items = Array.from(ids);
  const rand = mulberry32(seed);
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
