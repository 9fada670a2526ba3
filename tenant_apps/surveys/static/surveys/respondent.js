// The respondent page: renders one page at a time, runs the survey's logic with the shared evaluator
// (logic.js, the twin of the server's), saves a draft on every page change and submits.
import { evaluate, isEmpty, OTHER, shuffle } from "./logic.js";

const data = JSON.parse(document.getElementById("survey-data").textContent);
const survey = data.survey;
const definition = data.definition;
const api = `/api/v1/s/${encodeURIComponent(survey.link)}`;
const app = document.getElementById("app");
const params = new URLSearchParams(location.search);
const questions = new Map(definition.pages.flatMap((p) => (p.questions || []).map((q) => [q.id, q])));

const state = {
  answers: {},
  page: definition.pages[0]?.id,
  uid: params.get("resume"),
  token: params.get("token"),
  errors: {},
  done: null,
};

// Hidden fields come from the link's URL parameters (question setting `param`, else the question id).
for (const q of questions.values()) {
  if (q.type === "hidden") {
    const value = params.get(q.param || q.id);
    if (value !== null) state.answers[q.id] = value;
  }
}

function respondentKey() {
  let key = localStorage.getItem("respondent-key");
  if (!key) {
    key = crypto.randomUUID();
    localStorage.setItem("respondent-key", key);
  }
  return key;
}

function seed() {
  const text = state.uid || respondentKey();
  let h = 2166136261;
  for (const ch of text) h = Math.imul(h ^ ch.codePointAt(0), 16777619);
  return h >>> 0;
}

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) if (child) node.append(child);
  return node;
};

let shown = "";  // what the last render showed: re-render only when the logic changes it

function signature(result) {
  return JSON.stringify([result.pages, result.questions, result.required, result.hidden_choices, result.texts]);
}

function setAnswer(qid, value) {
  if (isEmpty(value)) delete state.answers[qid];
  else state.answers[qid] = value;
  const hadError = qid in state.errors;
  delete state.errors[qid];
  // Re-rendering replaces the form: only do it when display logic, requirements or piping changed,
  // so typing never loses the cursor and a click that blurs a field still lands on its button.
  if (hadError || signature(evaluate(definition, state.answers)) !== shown) render({ keepFocus: true });
}

function choiceInputs(q, result, multiple) {
  const hidden = new Set(result.hidden_choices[q.id] || []);
  let choices = (q.choices || []).filter((c) => !hidden.has(c.id));
  if (q.randomize_choices) {
    const order = shuffle(choices.map((c) => c.id), seed() ^ q.id.length);
    choices = order.map((id) => choices.find((c) => c.id === id));
  }
  if (q.other) choices = [...choices, { id: OTHER, text: "Other" }];
  const current = state.answers[q.id];
  const items = choices.map((c) => {
    const id = `${q.id}-${c.id}`;
    const checked = multiple ? (current || []).includes(c.id) : current === c.id;
    const input = el("input", {
      type: multiple ? "checkbox" : "radio", name: q.id, id, value: c.id, checked,
      onchange: (e) => {
        if (!multiple) return setAnswer(q.id, c.id);
        const set = new Set(state.answers[q.id] || []);
        e.target.checked ? set.add(c.id) : set.delete(c.id);
        setAnswer(q.id, [...set]);
      },
    });
    return el("div", { class: "choice" }, input, el("label", { for: id, text: c.text || c.id }));
  });
  const selected = multiple ? (current || []).includes(OTHER) : current === OTHER;
  if (q.other && selected) {
    items.push(el("input", {
      type: "text", "aria-label": "Other, please specify", value: state.answers[`${q.id}__other`] || "",
      onchange: (e) => setAnswer(`${q.id}__other`, e.target.value),
    }));
  }
  return items;
}

function scale(q, from, to) {
  const items = [];
  for (let n = from; n <= to; n++) {
    const id = `${q.id}-${n}`;
    items.push(el("label", { for: id },
      el("input", { type: "radio", name: q.id, id, value: n, checked: state.answers[q.id] === n,
                    onchange: () => setAnswer(q.id, n) }),
      el("span", { text: String(n) })));
  }
  return el("div", { class: "scale", role: "radiogroup" }, items);
}

function control(q, result) {
  const value = state.answers[q.id];
  const describedBy = state.errors[q.id] ? `${q.id}-error` : null;
  const common = { id: q.id, name: q.id, "aria-describedby": describedBy, "aria-invalid": !!describedBy,
                   required: result.required.includes(q.id) };
  switch (q.type) {
    case "short_text": case "email":
      return el("input", { ...common, type: q.type === "email" ? "email" : "text", value: value ?? "",
                           maxlength: q.max_length, oninput: (e) => setAnswer(q.id, e.target.value) });
    case "long_text":
      return el("textarea", { ...common, maxlength: q.max_length, text: value ?? "",
                              oninput: (e) => setAnswer(q.id, e.target.value) });
    case "number":
      return el("input", { ...common, type: "number", value: value ?? "", min: q.min, max: q.max, step: "any",
                           onchange: (e) => setAnswer(q.id, e.target.value === "" ? null : Number(e.target.value)) });
    case "date":
      return el("input", { ...common, type: "date", value: value ?? "", min: q.min_date, max: q.max_date,
                           onchange: (e) => setAnswer(q.id, e.target.value) });
    case "dropdown":
      return el("select", { ...common, onchange: (e) => setAnswer(q.id, e.target.value || null) },
        el("option", { value: "", text: "Choose…" }),
        (q.choices || []).filter((c) => !(result.hidden_choices[q.id] || []).includes(c.id))
          .map((c) => el("option", { value: c.id, selected: value === c.id, text: c.text || c.id })));
    case "single_choice": return choiceInputs(q, result, false);
    case "multiple_choice": return choiceInputs(q, result, true);
    case "yes_no":
      return el("div", { class: "scale", role: "radiogroup" }, [["Yes", true], ["No", false]].map(([label, v]) =>
        el("label", { for: `${q.id}-${label}` },
          el("input", { type: "radio", name: q.id, id: `${q.id}-${label}`, checked: value === v,
                        onchange: () => setAnswer(q.id, v) }), el("span", { text: label }))));
    case "rating": return scale(q, 1, q.scale || 5);
    case "nps": return scale(q, 0, 10);
    case "ranking": {
      const order = Array.isArray(value) ? value : (q.choices || []).map((c) => c.id);
      return el("ol", {}, order.map((cid, i) => el("li", {},
        el("span", { text: `${(q.choices.find((c) => c.id === cid) || {}).text || cid} ` }),
        el("button", { type: "button", class: "secondary", "aria-label": "Move up", disabled: i === 0,
                       onclick: () => { const o = [...order]; [o[i - 1], o[i]] = [o[i], o[i - 1]]; setAnswer(q.id, o); },
                       text: "↑" }))));
    }
    case "matrix":
      return el("table", { class: "matrix" },
        el("tr", {}, el("th"), (q.columns || []).map((c) => el("th", { scope: "col", text: c.text || c.id }))),
        (q.rows || []).map((r) => el("tr", {}, el("th", { scope: "row", text: r.text || r.id }),
          (q.columns || []).map((c) => el("td", {}, el("input", {
            type: q.multiple ? "checkbox" : "radio", name: `${q.id}-${r.id}`, "aria-label": `${r.text || r.id}: ${c.text || c.id}`,
            checked: q.multiple ? (value?.[r.id] || []).includes(c.id) : value?.[r.id] === c.id,
            onchange: (e) => {
              const next = { ...(value || {}) };
              if (q.multiple) {
                const set = new Set(next[r.id] || []);
                e.target.checked ? set.add(c.id) : set.delete(c.id);
                next[r.id] = [...set];
              } else next[r.id] = c.id;
              setAnswer(q.id, next);
            } }))))));
    case "file_upload": {
      const status = el("div", { class: "saved", id: `${q.id}-status`, text: value ? `Uploaded: ${value.name || "file"}` : "" });
      const input = el("input", {
        ...common, type: "file", accept: (q.allowed_types || []).map((t) => `.${t}`).join(",") || null,
        "aria-describedby": [describedBy, `${q.id}-status`].filter(Boolean).join(" "),
        onchange: async (e) => {
          const file = e.target.files[0];
          if (!file) return;
          status.textContent = "Uploading…";
          const form = new FormData();
          form.append("question", q.id);
          form.append("file", file);
          const response = await fetch(`${api}/files/`, { method: "POST", body: form });
          const payload = await response.json().catch(() => ({}));
          if (response.status === 201) setAnswer(q.id, { file_id: payload.file_id, name: payload.name });
          else { state.errors[q.id] = payload.error?.message || "Upload failed."; render(); }
          status.textContent = response.status === 201 ? `Uploaded: ${payload.name}` : "";
        },
      });
      return [input, status];
    }
    default:
      return null;
  }
}

function validatePage(pageId, result) {
  const page = definition.pages.find((p) => p.id === pageId);
  const errors = {};
  for (const q of page.questions || []) {
    if (!result.questions.includes(q.id)) continue;
    const value = result.answers[q.id];
    if (result.required.includes(q.id) && isEmpty(value)) errors[q.id] = "This question is required.";
    else if (typeof value === "string" && q.max_length && [...value].length > q.max_length)
      errors[q.id] = `At most ${q.max_length} characters.`;
    else if (typeof value === "number" && ((q.min !== undefined && value < q.min) || (q.max !== undefined && value > q.max)))
      errors[q.id] = `Enter a number from ${q.min ?? "…"} to ${q.max ?? "…"}.`;
    else if (q.type === "email" && value && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value))
      errors[q.id] = "Enter a valid email address.";
  }
  state.errors = errors;
  return Object.keys(errors).length === 0;
}

async function call(method, url, body) {
  const response = await fetch(url, {
    method, headers: { "Content-Type": "application/json", "X-Respondent-Key": respondentKey() },
    body: body ? JSON.stringify(body) : undefined,
  });
  const payload = response.status === 204 ? {} : await response.json().catch(() => ({}));
  return { status: response.status, payload };
}

async function saveDraft() {
  const { status, payload } = await call("PUT", `${api}/draft/`, {
    answers: state.answers, page: state.page, submission_id: state.uid, token: state.token });
  if (status === 200) {
    state.uid = payload.submission_id;
    state.token = payload.token;
    state.resumeUrl = new URL(payload.resume_url, location.origin).href;
    state.savedAt = new Date();
  }
}

async function go(direction) {
  const result = evaluate(definition, state.answers);
  const path = result.pages;
  const index = path.indexOf(state.page);
  if (direction > 0) {
    if (!validatePage(state.page, result)) return render();
    const ended = index === path.length - 1;
    if (ended) return submit();
    state.page = path[index + 1];
  } else if (index > 0) {
    state.page = path[index - 1];
  }
  await saveDraft();
  render();
  app.querySelector("h2")?.focus();
}

async function submit() {
  const { status, payload } = await call("POST", `${api}/submit/`, {
    answers: state.answers, submission_id: state.uid, token: state.token });
  if (status === 200 || status === 201) {
    state.done = payload;
    return render();
  }
  if (status === 400 && payload.error?.details) {
    state.errors = Object.fromEntries(Object.entries(payload.error.details).map(([k, v]) => [k, v.join(" ")]));
    const first = Object.keys(state.errors).find((k) => questions.has(k));
    const owner = definition.pages.find((p) => (p.questions || []).some((q) => q.id === first));
    if (owner) state.page = owner.id;
    return render();
  }
  state.done = { text: payload.error?.message || "Something went wrong; please try again.", failed: true };
  render();
}

function render({ keepFocus } = {}) {
  const active = keepFocus ? document.activeElement?.id : null;
  const result = evaluate(definition, state.answers);
  shown = signature(result);
  app.replaceChildren();
  if (state.done) {
    app.append(el("h1", { text: survey.title }),
      el("p", { "data-end-screen": state.done.end_screen || "", text: state.done.text || "Thank you!" }));
    return;
  }
  if (!result.pages.includes(state.page)) state.page = result.pages[0];
  const page = definition.pages.find((p) => p.id === state.page);
  const index = result.pages.indexOf(state.page);
  const percent = Math.round((index / Math.max(result.pages.length, 1)) * 100);
  app.append(el("h1", { text: survey.title }),
    el("div", { class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100,
                "aria-valuenow": percent, "aria-label": "Progress" }, el("div", { style: `width:${percent}%` })));
  if (page.title) app.append(el("h2", { tabindex: -1, text: result.texts[page.id] ?? page.title }));
  const form = el("form", { novalidate: true, onsubmit: (e) => { e.preventDefault(); go(1); } });
  for (const q of page.questions || []) {
    if (!result.questions.includes(q.id) || q.type === "hidden") continue;
    const required = result.required.includes(q.id);
    const text = result.texts[q.id] ?? q.text ?? "";
    const grouped = ["single_choice", "multiple_choice", "yes_no", "rating", "nps", "matrix", "ranking"].includes(q.type);
    const label = grouped ? el("legend", {}, text, required ? el("span", { class: "req", text: " *" }) : null)
      : el("label", { class: "q", for: q.id }, text, required ? el("span", { class: "req", text: " *" }) : null);
    const fieldset = el("fieldset", { "data-question": q.id }, label, control(q, result));
    if (state.errors[q.id]) fieldset.append(el("div", { class: "error", id: `${q.id}-error`, role: "alert", text: state.errors[q.id] }));
    form.append(fieldset);
  }
  const last = index === result.pages.length - 1;
  form.append(el("div", { class: "nav" },
    index > 0 ? el("button", { type: "button", class: "secondary", onclick: () => go(-1), text: "Back" }) : el("span"),
    el("button", { type: "submit", text: last ? "Submit" : "Next" })));
  app.append(form);
  const saved = el("div", { class: "saved" });
  if (state.resumeUrl) {
    saved.append(`Progress saved. Continue later with this link: `,
      el("a", { class: "resume", href: state.resumeUrl, id: "resume-link", text: state.resumeUrl }));
  }
  app.append(saved);
  if (active) document.getElementById(active)?.focus();
}

async function start() {
  if (state.uid && state.token) {
    const { status, payload } = await call("GET", `${api}/draft/${state.uid}/?token=${encodeURIComponent(state.token)}`);
    if (status === 200) {
      state.answers = { ...payload.answers, ...state.answers };
      if (payload.page) state.page = payload.page;
      state.resumeUrl = location.href;
    } else {
      state.uid = null;
      state.token = null;
    }
  }
  render();
}

start();
