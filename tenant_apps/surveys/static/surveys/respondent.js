// The respondent page: renders one page at a time, runs the survey's logic with the shared evaluator
// (logic.js, the twin of the server's), saves a draft as the respondent types (debounced) and submits.
//
// A page is built once (render) when it is shown; answering only updates it in place (update): piped texts,
// visibility, requirements and hidden choices change on the existing elements, so the field being typed in
// is never replaced (its caret stays put) and a click that blurs a field still lands on its button.
import { evaluate, isEmpty, OTHER, shuffle } from "./logic.js";

const data = JSON.parse(document.getElementById("survey-data").textContent);
const resumeData = JSON.parse(document.getElementById("resume-data")?.textContent || "{}");
const survey = data.survey;
const definition = data.definition;
const api = `/api/v1/s/${encodeURIComponent(survey.link)}`;
const app = document.getElementById("app");
const params = new URLSearchParams(location.search);
const questions = new Map(definition.pages.flatMap((p) => (p.questions || []).map((q) => [q.id, q])));
const SAVE_DELAY_MS = 800;
const GROUPED = ["single_choice", "multiple_choice", "yes_no", "rating", "nps", "matrix", "ranking"];
const RADIO_GROUPS = ["single_choice", "yes_no", "rating", "nps"];

const state = {
  answers: {},
  page: definition.pages[0]?.id,
  uid: resumeData.submission_id || params.get("resume"),
  token: resumeData.token || params.get("token"),
  errors: {},
  done: null,
  resumeUrl: null,
  showResume: false,
  notice: resumeData.error || "",
};

// Hidden fields come from the link's URL parameters (question setting `param`, else the question id).
for (const q of questions.values()) {
  if (q.type === "hidden") {
    const value = params.get(q.param || q.id);
    if (value !== null) state.answers[q.id] = value;
  }
}
// A personal invitation link: the contact's attributes fill hidden fields (the server fills them too).
Object.assign(state.answers, resumeData.hidden || {});
const invitationHeaders = resumeData.invitation ? { "X-Invitation-Token": resumeData.invitation } : {};

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

const setText = (node, text) => { if (node && node.textContent !== text) node.textContent = text; };

// --- answers --------------------------------------------------------------------------------------------

function setAnswer(qid, value) {
  if (isEmpty(value)) delete state.answers[qid];
  else state.answers[qid] = value;
  const owner = qid.endsWith("__other") ? qid.slice(0, -"__other".length) : qid;
  if (owner in state.errors) clearError(owner);
  update();
  scheduleSave();
}

function choiceInputs(q, multiple) {
  let choices = q.choices || [];
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
    return el("div", { class: "choice", "data-choice": c.id }, input, el("label", { for: id, text: c.text || c.id }));
  });
  if (q.other) {
    items.push(el("input", {
      type: "text", class: "other", id: `${q.id}__other`, "aria-label": "Other, please specify",
      value: state.answers[`${q.id}__other`] || "", oninput: (e) => setAnswer(`${q.id}__other`, e.target.value),
    }));
  }
  return el("div", { class: "choices", role: multiple ? "group" : "radiogroup", "data-group": q.id,
                     "aria-labelledby": `${q.id}-label` }, items);
}

function scale(q, from, to, labels) {
  const items = [];
  for (let n = from; n <= to; n++) {
    const value = labels ? labels[n - from][1] : n;
    const text = labels ? labels[n - from][0] : String(n);
    const id = `${q.id}-${text}`;
    items.push(el("label", { for: id },
      el("input", { type: "radio", name: q.id, id, value: String(value), checked: state.answers[q.id] === value,
                    onchange: () => setAnswer(q.id, value) }),
      el("span", { text })));
  }
  return el("div", { class: "scale", role: "radiogroup", "data-group": q.id, "aria-labelledby": `${q.id}-label` },
    items);
}

function ranking(q) {
  const value = state.answers[q.id];
  const order = Array.isArray(value) ? value : (q.choices || []).map((c) => c.id);
  return el("ol", { class: "ranking" }, order.map((cid, i) => el("li", {},
    el("span", { text: `${(q.choices.find((c) => c.id === cid) || {}).text || cid} ` }),
    el("button", { type: "button", class: "secondary", "aria-label": `Move ${cid} up`, disabled: i === 0,
                   onclick: () => {
                     const o = [...order];
                     [o[i - 1], o[i]] = [o[i], o[i - 1]];
                     setAnswer(q.id, o);
                     const list = app.querySelector(`[data-question="${q.id}"] ol.ranking`);
                     list.replaceWith(ranking(q));  // only this list; focus follows the moved item
                     app.querySelectorAll(`[data-question="${q.id}"] li button`)[i - 1]?.focus();
                   },
                   text: "↑" }))));
}

function control(q) {
  const value = state.answers[q.id];
  const common = { id: q.id, name: q.id };
  switch (q.type) {
    case "short_text": case "email":
      return el("input", { ...common, type: q.type === "email" ? "email" : "text", value: value ?? "",
                           autocomplete: q.type === "email" ? "email" : "off",
                           maxlength: q.max_length, oninput: (e) => setAnswer(q.id, e.target.value) });
    case "long_text":
      return el("textarea", { ...common, maxlength: q.max_length, text: value ?? "",
                              oninput: (e) => setAnswer(q.id, e.target.value) });
    case "number":
      return el("input", { ...common, type: "number", value: value ?? "", min: q.min, max: q.max, step: "any",
                           oninput: (e) => setAnswer(q.id, e.target.value === "" ? null : Number(e.target.value)) });
    case "date":
      return el("input", { ...common, type: "date", value: value ?? "", min: q.min_date, max: q.max_date,
                           oninput: (e) => setAnswer(q.id, e.target.value) });
    case "dropdown":
      return el("select", { ...common, onchange: (e) => setAnswer(q.id, e.target.value || null) },
        el("option", { value: "", text: "Choose…" }),
        (q.choices || []).map((c) => el("option", { value: c.id, selected: value === c.id, text: c.text || c.id })));
    case "single_choice": return choiceInputs(q, false);
    case "multiple_choice": return choiceInputs(q, true);
    case "yes_no": return scale(q, 1, 2, [["Yes", true], ["No", false]]);
    case "rating": return scale(q, 1, q.scale || 5);
    case "nps": return scale(q, 0, 10);
    case "ranking": return ranking(q);
    case "matrix":
      return el("table", { class: "matrix" },
        el("tr", {}, el("th"), (q.columns || []).map((c) => el("th", { scope: "col", text: c.text || c.id }))),
        (q.rows || []).map((r) => el("tr", {}, el("th", { scope: "row", text: r.text || r.id }),
          (q.columns || []).map((c) => el("td", {}, el("input", {
            type: q.multiple ? "checkbox" : "radio", name: `${q.id}-${r.id}`, "aria-label": `${r.text || r.id}: ${c.text || c.id}`,
            checked: q.multiple ? (value?.[r.id] || []).includes(c.id) : value?.[r.id] === c.id,
            onchange: (e) => {
              const next = { ...(state.answers[q.id] || {}) };
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
        "aria-describedby": `${q.id}-status`,
        onchange: async (e) => {
          const file = e.target.files[0];
          if (!file) return;
          status.textContent = "Uploading…";
          const form = new FormData();
          form.append("question", q.id);
          form.append("file", file);
          const response = await fetch(`${api}/files/`, { method: "POST", body: form, headers: invitationHeaders });
          const payload = await response.json().catch(() => ({}));
          if (response.status === 201) setAnswer(q.id, { file_id: payload.file_id, name: payload.name });
          else showError(q.id, payload.error?.message || "Upload failed.");
          status.textContent = response.status === 201 ? `Uploaded: ${payload.name}` : "";
        },
      });
      return [input, status];
    }
    default:
      return null;
  }
}

// --- errors, shown and cleared in place --------------------------------------------------------------------

function errorTarget(qid) {
  const q = questions.get(qid);
  if (!q) return null;
  if (["single_choice", "multiple_choice", "yes_no", "rating", "nps"].includes(q.type))
    return app.querySelector(`[data-group="${qid}"]`);
  if (["matrix", "ranking"].includes(q.type)) return app.querySelector(`[data-question="${qid}"]`);
  return document.getElementById(qid);
}

function showError(qid, message) {
  state.errors[qid] = message;
  const fieldset = app.querySelector(`[data-question="${qid}"]`);
  if (!fieldset) return;
  let box = document.getElementById(`${qid}-error`);
  if (!box) {
    box = el("div", { class: "error", id: `${qid}-error`, role: "alert" });
    fieldset.append(box);
  }
  setText(box, message);
  const target = errorTarget(qid);
  if (target) {
    target.setAttribute("aria-invalid", "true");
    const ids = new Set((target.getAttribute("aria-describedby") || "").split(" ").filter(Boolean));
    ids.add(`${qid}-error`);
    target.setAttribute("aria-describedby", [...ids].join(" "));
  }
}

function clearError(qid) {
  delete state.errors[qid];
  document.getElementById(`${qid}-error`)?.remove();
  const target = errorTarget(qid);
  if (target) {
    target.removeAttribute("aria-invalid");
    const ids = (target.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== `${qid}-error`);
    if (ids.length) target.setAttribute("aria-describedby", ids.join(" "));
    else target.removeAttribute("aria-describedby");
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
  for (const qid of Object.keys(state.errors)) if (!(qid in errors)) clearError(qid);
  for (const [qid, message] of Object.entries(errors)) showError(qid, message);
  return Object.keys(errors).length === 0;
}

// --- server ---------------------------------------------------------------------------------------------

async function call(method, url, body, extra = {}) {
  const response = await fetch(url, {
    method, headers: { "Content-Type": "application/json", "X-Respondent-Key": respondentKey(), ...invitationHeaders },
    body: body ? JSON.stringify(body) : undefined, ...extra,
  });
  const payload = response.status === 204 ? {} : await response.json().catch(() => ({}));
  return { status: response.status, payload };
}

let saveTimer = null;
let saving = Promise.resolve();
let dirty = false;

function scheduleSave() {
  dirty = true;
  clearTimeout(saveTimer);
  saveTimer = setTimeout(() => saveDraft(), SAVE_DELAY_MS);
}

// Saves run one after another: the first one mints the draft's id and token, the next ones present them.
function saveDraft({ keepalive = false } = {}) {
  clearTimeout(saveTimer);
  dirty = false;
  saving = saving.then(async () => {
    if (state.done) return;
    const { status, payload } = await call("PUT", `${api}/draft/`, {
      answers: state.answers, page: state.page, submission_id: state.uid, token: state.token }, { keepalive });
    if (status === 200) {
      state.uid = payload.submission_id;
      state.token = payload.token;
      state.resumeUrl = new URL(payload.resume_url, location.origin).href;
      setText(app.querySelector("[data-save-status]"), "Progress saved.");
      updateResumePanel();
    }
  }).catch(() => {});
  return saving;
}

function flush() {
  if (dirty && !state.done) saveDraft({ keepalive: true });
}
document.addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") flush(); });
window.addEventListener("pagehide", flush);

async function go(direction) {
  const result = evaluate(definition, state.answers);
  const path = result.pages;
  const index = path.indexOf(state.page);
  if (direction > 0) {
    if (!validatePage(state.page, result)) {
      errorTarget(Object.keys(state.errors)[0])?.focus?.();
      return;
    }
    if (index === path.length - 1) return submit();
    state.page = path[index + 1];
  } else if (index > 0) {
    state.page = path[index - 1];
  }
  render();
  app.querySelector("h2")?.focus();
  await saveDraft();
}

async function submit() {
  await saving;
  const { status, payload } = await call("POST", `${api}/submit/`, {
    answers: state.answers, submission_id: state.uid, token: state.token });
  if (status === 200 || status === 201) {
    state.done = payload;
    return render();
  }
  if (status === 400 && payload.error?.details) {
    const errors = Object.fromEntries(Object.entries(payload.error.details).map(([k, v]) => [k, [v].flat().join(" ")]));
    const first = Object.keys(errors).find((k) => questions.has(k));
    const owner = definition.pages.find((p) => (p.questions || []).some((q) => q.id === first));
    if (owner) state.page = owner.id;
    render();
    for (const [qid, message] of Object.entries(errors)) showError(qid, message);
    return;
  }
  state.done = {
    text: payload.error?.message || "Something went wrong; please try again.",
    failed: true,
    code: payload.error?.code || "error",
  };
  render();
}

// --- rendering ------------------------------------------------------------------------------------------

function questionBlock(q) {
  const grouped = GROUPED.includes(q.type);
  const text = el("span", { class: "qtext" });
  const marker = el("span", { class: "req", "aria-hidden": "true", text: " *" });
  const label = grouped ? el("legend", { id: `${q.id}-label` }, text, marker)
    : el("label", { class: "q", for: q.id, id: `${q.id}-label` }, text, marker);
  return el("fieldset", { "data-question": q.id }, label, control(q));
}

// Brings the shown page in line with the answers without replacing any element.
function update() {
  if (state.done) return;
  const result = evaluate(definition, state.answers);
  const page = definition.pages.find((p) => p.id === state.page);
  setText(app.querySelector("h2"), result.texts[page.id] ?? page.title ?? "");
  for (const q of page.questions || []) {
    const fieldset = app.querySelector(`[data-question="${q.id}"]`);
    if (!fieldset) continue;
    fieldset.hidden = !result.questions.includes(q.id);
    setText(fieldset.querySelector(".qtext"), result.texts[q.id] ?? q.text ?? "");
    const required = result.required.includes(q.id);
    fieldset.querySelector(".req").hidden = !required;
    const group = fieldset.querySelector(`[data-group="${q.id}"]`);
    if (group && RADIO_GROUPS.includes(q.type)) {
      if (required) group.setAttribute("aria-required", "true");
      else group.removeAttribute("aria-required");
    } else if (!group) {
      const input = document.getElementById(q.id);
      if (input) input.required = required;
    }
    const hiddenChoices = new Set(result.hidden_choices[q.id] || []);
    for (const item of fieldset.querySelectorAll("[data-choice]")) item.hidden = hiddenChoices.has(item.dataset.choice);
    for (const option of fieldset.querySelectorAll("option[value]:not([value=''])")) {
      option.hidden = option.disabled = hiddenChoices.has(option.value);
    }
    const other = fieldset.querySelector("input.other");
    if (other) {
      const answer = state.answers[q.id];
      other.hidden = !(Array.isArray(answer) ? answer.includes(OTHER) : answer === OTHER);
    }
  }
  const index = result.pages.indexOf(state.page);
  const percent = Math.round((Math.max(index, 0) / Math.max(result.pages.length, 1)) * 100);
  const bar = app.querySelector(".progress");
  if (bar) {
    bar.setAttribute("aria-valuenow", percent);
    bar.firstElementChild.style.width = `${percent}%`;
  }
  setText(app.querySelector("button[type=submit]"), index === result.pages.length - 1 ? "Submit" : "Next");
}

function resumePanel() {
  const link = el("input", { type: "text", id: "resume-link", readonly: true, class: "resume",
                             "aria-label": "Link to continue later", value: state.resumeUrl || "" });
  const copied = el("span", { class: "saved", role: "status" });
  const email = el("input", { type: "email", id: "resume-email", autocomplete: "email" });
  const sent = el("div", { class: "saved", role: "status", "data-email-status": "" });
  const emailForm = el("form", { class: "resume-email", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email.value)) return setText(sent, "Enter a valid email address.");
    await saving;
    const { status, payload } = await call("POST", `${api}/draft/${state.uid}/email/`,
      { email: email.value, token: state.token });
    setText(sent, status === 202 ? `Sent to ${email.value}.` : payload.error?.message || "Could not send it.");
  } },
  el("label", { for: "resume-email", text: "E-mail me the link" }),
  el("div", { class: "row" }, email, el("button", { type: "submit", class: "secondary", text: "Send" })), sent);
  return el("section", { class: "resume-panel", "aria-labelledby": "resume-heading", hidden: !state.showResume },
    el("h2", { id: "resume-heading", class: "small", text: "Continue later" }),
    el("p", { text: "Your answers are saved. Open this link on any device to continue:" }),
    el("div", { class: "row" }, link,
      el("button", { type: "button", class: "secondary", text: "Copy link", onclick: async () => {
        link.select();
        try { await navigator.clipboard.writeText(link.value); } catch { document.execCommand("copy"); }
        setText(copied, "Link copied.");
      } })),
    copied, emailForm);
}

function updateResumePanel() {
  const panel = app.querySelector(".resume-panel");
  if (!panel) return;
  panel.hidden = !state.showResume;
  const link = panel.querySelector("#resume-link");
  if (link && state.resumeUrl && link.value !== state.resumeUrl) link.value = state.resumeUrl;
}

function render() {
  app.replaceChildren();
  if (state.done) {
    app.append(el("h1", { text: survey.title }));
    if (state.done.failed) {
      app.append(el("p", { class: "error", role: "alert", "data-status": state.done.code, text: state.done.text }));
    } else {
      app.append(el("p", { "data-end-screen": state.done.end_screen || "", text: state.done.text || "Thank you!" }));
    }
    return;
  }
  const result = evaluate(definition, state.answers);
  if (!result.pages.includes(state.page)) state.page = result.pages[0];
  const page = definition.pages.find((p) => p.id === state.page);
  const index = result.pages.indexOf(state.page);
  app.append(el("h1", { text: survey.title }));
  if (index === 0 && survey.description) app.append(el("p", { class: "description", text: survey.description }));
  if (state.notice) app.append(el("p", { class: "error", role: "alert", text: state.notice }));
  app.append(el("div", { class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100,
                         "aria-label": "Progress" }, el("div")));
  if (page.title) app.append(el("h2", { tabindex: -1 }));
  const form = el("form", { novalidate: true, onsubmit: (e) => { e.preventDefault(); go(1); } });
  for (const q of page.questions || []) if (q.type !== "hidden") form.append(questionBlock(q));
  form.append(el("div", { class: "nav" },
    index > 0 ? el("button", { type: "button", class: "secondary", onclick: () => go(-1), text: "Back" }) : el("span"),
    el("button", { type: "submit", text: "Next" })));
  app.append(form);
  app.append(el("div", { class: "later" },
    el("button", { type: "button", class: "link", "data-save-later": "", text: "Save and continue later",
                   onclick: async () => {
                     state.showResume = true;
                     await saveDraft();
                     updateResumePanel();
                     document.getElementById("resume-link")?.focus();
                   } }),
    el("span", { class: "saved", role: "status", "data-save-status": "" })));
  app.append(resumePanel());
  update();
  for (const [qid, message] of Object.entries(state.errors)) showError(qid, message);
}

async function start() {
  if (state.uid && state.token) {
    const { status, payload } = await call("GET", `${api}/draft/${state.uid}/?token=${encodeURIComponent(state.token)}`);
    if (status === 200) {
      state.answers = { ...payload.answers, ...state.answers };
      if (payload.page) state.page = payload.page;
      state.resumeUrl = location.href;
    } else {
      state.notice = payload.error?.message || "This resume link no longer works; start again below.";
      state.uid = null;
      state.token = null;
    }
  }
  render();
}

start();
