// compensa web page: the guided flow — where it hurts (map, search, note) -> that site's red flags -> the
// interview's suggested next question and the findings/tests by region -> consult. The form's controls are
// the one record of the case; interview answers are written into them. A case can arrive as /#case=<base64url>.
// Every piece of text is inserted with textContent (never innerHTML), so no input can inject markup.
"use strict";

const state = {
  vocab: null, atlas: null, pain: new Map(),   // pain: "site|side" -> {site, side}
  skipped: [], extra: [], historyAbsent: new Set(), answered: [], interviewSeq: 0, triageSeq: 0,
};
const LEVELS = { emergency: 0, urgent: 1, review: 2 };
const REGION_ORDER = ["head", "jaw", "neck", "shoulder", "chest", "upper_back", "arm", "elbow", "wrist_hand", "abdomen", "lower_back",
  "pelvis", "hip", "thigh", "knee", "lower_leg", "ankle", "foot"];

const byId = (list, id) => list.find((x) => x.id === id);
function labelOf(id) {
  for (const kind of ["test", "finding", "pain", "muscle", "red_flag", "history", "root"]) {
    const e = byId(state.vocab[kind] || [], id);
    if (e) return e.label;
  }
  return id.replace(/_/g, " ");
}
const painLabel = (id) => (byId(state.vocab.pain, id) || { label: id }).label;
const regionOfPain = (id) => (byId(state.vocab.pain, id) || {}).region;
const ctx = () => ({ atlas: state.atlas, labelOf, regionOfPain });

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

// -- step 1: where it hurts -----------------------------------------------------------------------------------
function sidedSites() {
  const sided = new Set();
  for (const v of Object.values(state.atlas.views)) for (const z of v.zones) if (z.side) sided.add(z.site);
  return sided;
}

function setPain(site, side, on) {
  const key = `${site}|${side || ""}`;
  if (on === undefined) on = !state.pain.has(key);
  if (on) state.pain.set(key, { site, side: side || null }); else state.pain.delete(key);
  painChanged();
}

function painChanged() {
  markZones((site, side) => state.pain.has(`${site}|${side || ""}`) || (!!side && state.pain.has(`${site}|both`)));
  const list = $("pain-list");
  list.textContent = "";
  if (!state.pain.size) list.append(el("li", { class: "none", text: "none" }));
  for (const [key, { site, side }] of state.pain) {
    const name = `${painLabel(site)}${side ? " (" + side + ")" : ""}`;
    list.append(el("li", {}, el("span", { text: name }),
      el("button", { type: "button", class: "chip-x", "aria-label": `remove ${name}`, text: "×", onclick: () => { state.pain.delete(key); painChanged(); } })));
  }
  openRegionsFor([...state.pain.values()].map((p) => regionOfPain(p.site)));
  refreshTriage();
  refreshInterview();
  markStale(false);
}

// One pain site as a row: its name and an "add" button, or a side chooser for a sided site.
function siteRow(p, sided, prefix, done) {
  const li = el("li", { "data-site": p.id }, el("span", { class: "m-label", text: p.label }));
  const add = (side) => { setPain(p.id, side, true); done(); };
  if (sided.has(p.id)) {
    li.append(el("span", { class: "side-chooser", role: "group", "aria-label": `side for ${p.label}` },
      ...["right", "left", "both"].map((s) => el("button", { type: "button", class: "secondary", "data-testid": `${prefix}-add-${p.id}-${s}`,
        "aria-label": `${p.label}, ${s}`, text: s, onclick: () => add(s) }))));
  } else {
    li.append(el("button", { type: "button", class: "secondary", "data-testid": `${prefix}-add-${p.id}`, "aria-label": `add ${p.label}`, text: "add", onclick: () => add(null) }));
  }
  return li;
}

function setUpSearch() {
  const input = $("pain-search"), matches = $("pain-matches");
  const sided = sidedSites();
  const done = () => { input.value = ""; matches.textContent = ""; input.focus(); };
  const render = () => {
    matches.textContent = "";
    const q = input.value.trim().toLowerCase();
    if (q.length < 2) return;
    const found = state.vocab.pain.filter((p) => [p.label, p.id.replace(/_/g, " "), ...(p.aliases || [])].some((s) => s.toLowerCase().includes(q)));
    if (!found.length) { matches.append(el("li", { class: "small", text: "No pain site matches: try another word, or tap the map." })); return; }
    for (const p of found.slice(0, 8)) matches.append(siteRow(p, sided, "search", done));
  };
  input.addEventListener("input", render);
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); const b = matches.querySelector("button"); if (b) b.click(); } });
  const all = $("pain-all");
  for (const p of [...state.vocab.pain].sort((a, b) => a.label.localeCompare(b.label))) all.append(siteRow(p, sided, "list", () => {}));
}

// -- step 2: red flags ------------------------------------------------------------------------------------------
function flagRow(f) {
  const select = el("select", { name: `flag:${f.id}`, "data-testid": `flag-${f.id}`, id: `flag-${f.id}` },
    el("option", { value: "", text: "not asked" }), el("option", { value: "no", text: "no" }), el("option", { value: "yes", text: "yes" }),
    el("option", { value: "unsure", text: "unsure (counts as yes)" }));
  const row = el("div", { class: `flag ${f.level} unasked`, "data-flag": f.id, "data-level": f.level },
    el("label", { class: "q", for: `flag-${f.id}` },
      el("span", { class: `badge ${f.level}`, text: f.level }), el("strong", { text: `${f.label}. ` }), el("span", { text: f.question })),
    select);
  select.addEventListener("change", () => {
    row.classList.toggle("unasked", !select.value);
    row.classList.toggle("raised", select.value === "yes" || select.value === "unsure");
    flagProgress();
    refreshInterview();
  });
  return row;
}

function flagProgress() {
  const selects = [...document.querySelectorAll("#flags-site select")];
  const box = $("flags-progress");
  box.hidden = !selects.length;
  const asked = selects.filter((s) => s.value).length;
  const raised = selects.filter((s) => s.value === "yes" || s.value === "unsure").length;
  box.textContent = `Asked ${asked} of ${selects.length} for these sites` +
    (asked < selects.length ? ": not yet screened." : raised ? `: ${raised} raised — the plan will be withheld.` : ": screening list complete.");
  box.classList.toggle("done", asked === selects.length && !raised);
  box.classList.toggle("raised", raised > 0);
}

function sortedFlags() {
  return [...state.vocab.red_flag].sort((a, b) => LEVELS[a.level] - LEVELS[b.level] || a.label.localeCompare(b.label));
}

function placeFlags(ask) {
  const site = $("flags-site"), all = $("flags");
  const asked = ask.map((q) => q.id);
  const rows = new Map([...document.querySelectorAll(".flag[data-flag]")].map((r) => [r.dataset.flag, r]));
  for (const q of ask) if (!rows.has(q.id)) rows.set(q.id, flagRow(q));
  const order = [...asked].sort((a, b) => (LEVELS[rows.get(a).dataset.level] ?? 3) - (LEVELS[rows.get(b).dataset.level] ?? 3));
  for (const id of order) site.append(rows.get(id));
  for (const f of sortedFlags()) if (!asked.includes(f.id)) all.append(rows.get(f.id));
  $("flags-empty").hidden = state.pain.size > 0;
  $("flags-empty").textContent = "Choose where it hurts first: its screening questions appear here.";
  if (state.pain.size && !ask.length) { $("flags-empty").hidden = false; $("flags-empty").textContent = "No screening list for these sites: open all red-flag questions."; }
  flagProgress();
}

const refreshTriage = debounce(async () => {
  const seq = ++state.triageSeq;
  if (!state.pain.size) { placeFlags([]); return; }
  try {
    const data = await (await post("/v1/triage", { pain: painItems() })).json();
    if (seq !== state.triageSeq) return;
    const triage = data.triage || data;
    placeFlags(triage.ask || []);
  } catch (e) { $("flags-empty").hidden = false; $("flags-empty").textContent = `Could not load the screening list: ${e.message}`; }
}, 150);

// -- step 3: findings and tests by region, and the interview -------------------------------------------------------
function sideSelect(name, label) {
  return el("select", { name, "aria-label": `${label}: side` },
    el("option", { value: "", text: "side: —" }), el("option", { value: "left", text: "left" }),
    el("option", { value: "right", text: "right" }), el("option", { value: "both", text: "both" }));
}

function updateCounts() {
  for (const d of document.querySelectorAll("details.region[data-region]")) {
    const n = [...d.querySelectorAll("select[data-testid]")].filter((s) => s.value).length;
    d.querySelector(".count").textContent = n ? ` — ${n} recorded` : "";
  }
}

function grouped(container, entries, kind) {
  const regions = new Map();
  for (const e of entries) {
    if (!regions.has(e.region)) regions.set(e.region, []);
    regions.get(e.region).push(e);
  }
  const rank = (r) => (REGION_ORDER.indexOf(r) < 0 ? 99 : REGION_ORDER.indexOf(r));
  for (const region of [...regions.keys()].sort((a, b) => rank(a) - rank(b) || String(a).localeCompare(String(b)))) {
    const details = el("details", { class: "region", "data-region": region },
      el("summary", {}, el("span", { text: String(region).replace(/_/g, " ") }), el("span", { class: "count small" })));
    for (const e of regions.get(region)) {
      const values = kind === "finding" ? [["", "not recorded"], ["present", "present"], ["absent", "absent"]]
        : [["", "not done"], ["positive", "positive"], ["negative", "negative"]];
      const select = el("select", { name: `${kind}:${e.id}`, "data-testid": `${kind}-${e.id}`, "aria-label": e.label },
        ...values.map(([v, t]) => el("option", { value: v, text: t })));
      select.addEventListener("change", updateCounts);
      details.append(el("div", { class: "item" }, el("strong", { text: e.label }), el("span", { class: "how", text: e.how || "" }),
        el("span", { class: "controls" }, select, e.sided ? sideSelect(`${kind}-side:${e.id}`, e.label) : el("span"))));
    }
    container.append(details);
  }
}

function openRegionsFor(regions) {
  for (const r of regions) for (const d of document.querySelectorAll(`details.region[data-region="${r}"]`)) d.open = true;
}

function revealControl(control) {
  const d = control.closest("details");
  if (d) d.open = true;
}

const ANSWER_WORDS = { present: "yes / present", absent: "no / absent", unsure: "unsure (counts as yes)", positive: "positive", negative: "negative" };

function answerWords(q, a) {
  if (q.kind === "red_flag") return { present: "yes", absent: "no", unsure: "unsure (counts as yes)" }[a] || a;
  if (q.kind === "history") return { present: "yes", absent: "no" }[a] || a;
  return ANSWER_WORDS[a] || a;
}

function applyAnswer(q, answer) {
  const form = $("case-form");
  if (q.kind === "red_flag") {
    const select = form.querySelector(`select[name='flag:${q.id}']`);
    const value = { present: "yes", absent: "no", unsure: "unsure" }[answer];
    if (select) { select.value = value; select.dispatchEvent(new Event("change", { bubbles: true })); }
    else {
      state.extra.push(["red_flags", { id: q.id, present: answer === "unsure" ? "unsure" : answer === "present" }]);
      markStale(answer !== "absent");
    }
  } else if (q.kind === "history") {
    const box = form.querySelector(`input[name='history:${q.id}']`);
    if (answer === "present" && box) box.checked = true;
    else if (answer === "absent") state.historyAbsent.add(q.id);
    else state.extra.push(["history", { id: q.id, present: answer === "present" }]);
  } else {
    const kind = q.kind === "test" ? "test" : "finding";
    const select = form.querySelector(`select[name='${kind}:${q.id}']`);
    const sideBox = form.querySelector(`select[name='${kind}-side:${q.id}']`);
    const side = q.side || "";
    const item = kind === "test" ? { id: q.id, result: answer } : { id: q.id, present: answer === "present" };
    if (side) item.side = side;
    if (select && (!select.value || !sideBox || !sideBox.value || sideBox.value === side)) {
      select.value = answer;
      if (sideBox) sideBox.value = side;
      revealControl(select);
      updateCounts();
    } else state.extra.push([kind === "test" ? "tests" : "findings", item]);
  }
  state.answered.push(`${q.label || q.text}${q.side ? " (" + q.side + ")" : ""}: ${answerWords(q, answer)}`);
  if (q.kind !== "red_flag") markStale(false);
  refreshInterviewNow();
}

function showInterview(data) {
  const box = $("interview-body");
  box.textContent = "";
  if (state.answered.length) {
    box.append(el("details", { class: "answered" }, el("summary", { text: `Answered here: ${state.answered.length}` }),
      el("ul", {}, ...state.answered.map((a) => el("li", { text: a })))));
  }
  const q = data.question;
  if (data.should_stop || !q) {
    box.append(el("p", { class: "stop", "data-testid": "interview-stop", text: `Enough to go on. ${data.rationale || ""}` }),
      el("p", { class: "small", text: "Consult to see the results, or keep recording below." }));
    return;
  }
  const answers = q.answers && q.answers.length ? q.answers
    : ({ test: ["positive", "negative"], red_flag: ["present", "absent", "unsure"] }[q.kind] || ["present", "absent"]);
  const card = el("div", { class: `question ${q.kind}`, "data-testid": "interview-question", "data-id": q.id, "data-kind": q.kind, "data-side": q.side || "" },
    el("p", { class: "q-text" }, q.kind === "red_flag" ? el("span", { class: `badge ${q.level || "urgent"}`, text: `red flag${q.level ? ": " + q.level : ""}` }) : el("span"),
      el("strong", { text: q.text })),
    q.how_to ? el("p", { class: "how", text: `How: ${q.how_to}` }) : el("span"),
    data.rationale ? el("p", { class: "small", text: `Why ask: ${data.rationale}` }) : el("span"));
  const buttons = el("div", { class: "answer-buttons", role: "group", "aria-label": "answer" },
    ...answers.map((a) => el("button", { type: "button", class: `answer ${a}`, "data-answer": a, text: answerWords(q, a), onclick: () => applyAnswer(q, a) })),
    el("button", { type: "button", class: "secondary", "data-answer": "skip", text: "skip",
      onclick: () => { state.skipped.push(q.side ? `${q.id}:${q.side}` : q.id); refreshInterviewNow(); } }));
  card.append(buttons);
  box.append(card);
}

async function refreshInterviewNow() {
  const seq = ++state.interviewSeq;
  const caseData = buildCase();
  if (!caseData.pain.length && !caseData.text) return;
  try {
    const data = await (await post("/v1/interview", { case: caseData, skipped: state.skipped })).json();
    if (seq === state.interviewSeq) showInterview(data);
  } catch (e) { if (seq === state.interviewSeq) $("interview-body").textContent = `No suggestion: ${e.message}`; }
}
const refreshInterview = debounce(refreshInterviewNow, 350);

// -- the case ---------------------------------------------------------------------------------------------------
function painItems() {
  return [...state.pain.values()].map(({ site, side }) => (side ? { site, side } : { site }));
}

function buildCase() {
  const form = $("case-form");
  const data = { pain: painItems(), findings: [], tests: [], red_flags: [], history: [] };
  for (const select of form.querySelectorAll("select[name^='finding:'], select[name^='test:']")) {
    if (!select.value) continue;
    const [kind, id] = select.name.split(":");
    const sideInput = form.querySelector(`select[name='${kind}-side:${id}']`);
    const side = sideInput && sideInput.value ? { side: sideInput.value } : {};
    if (kind === "finding") data.findings.push({ id, present: select.value === "present", ...side });
    else data.tests.push({ id, result: select.value, ...side });
  }
  for (const select of form.querySelectorAll("select[name^='flag:']")) {
    if (select.value) data.red_flags.push({ id: select.name.slice(5), present: select.value === "unsure" ? "unsure" : select.value === "yes" });
  }
  for (const box of form.querySelectorAll("input[name^='history:']:checked")) data.history.push(box.name.slice(8));
  for (const id of state.historyAbsent) if (!data.history.includes(id)) data.history.push({ id, present: false });
  const keyOf = (x) => `${typeof x === "string" ? x : x.id || x.site}|${(typeof x === "object" && x.side) || ""}`;
  for (const [section, item] of state.extra) {
    data[section] = data[section] || [];
    if (!data[section].some((x) => keyOf(x) === keyOf(item))) data[section].push(item);
  }
  const note = $("note").value.trim();
  if (note) data.text = note;
  for (const k of Object.keys(data)) if (Array.isArray(data[k]) && !data[k].length && k !== "pain") delete data[k];
  return data;
}

// -- results that no longer match the form ------------------------------------------------------------------------
// A change after consulting marks the results out of date; a red flag answered yes or unsure hides them
// (the plan no longer applies) until the case is consulted again.
function caseChanged(event) {
  const target = event && event.target;
  markStale(!!target && typeof target.name === "string" && target.name.startsWith("flag:")
    && (target.value === "yes" || target.value === "unsure"));
}

function markStale(raised) {
  const results = $("results");
  if (results.hidden) return;
  if (raised) results.dataset.stale = "red-flag";
  else if (results.dataset.stale !== "red-flag") results.dataset.stale = "changed";
  const stale = $("stale");
  stale.hidden = false;
  stale.textContent = results.dataset.stale === "red-flag"
    ? "A red flag is now answered yes or unsure: the exercise plan below no longer applies and is hidden. Seek medical care first; consult again to update the results."
    : "The case has changed since these results were given: consult again to update them.";
}

function resultsCurrent() {
  delete $("results").dataset.stale;
  $("stale").hidden = true;
  $("stale").textContent = "";
}

async function consult() {
  const status = $("status");
  const caseData = buildCase();
  status.textContent = "Consulting…";
  try {
    const report = await (await post("/v1/consult", caseData)).json();
    showReport(report, caseData, ctx());
    resultsCurrent();
    status.textContent = "";
    $("h-results").scrollIntoView({ block: "start" });
    showGraph(caseData);
  } catch (e) { status.textContent = `Error: ${e.message}`; }
}

// -- a case from the URL: /#case=<base64url of the case JSON> (the fragment never reaches the server) --------------
function decodeCase(hash) {
  const m = /(?:^#|&)case=([A-Za-z0-9_\-]+=*)/.exec(hash);
  if (!m) return null;
  let b64 = m[1].replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  b64 += "=".repeat((4 - (b64.length % 4)) % 4);
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

function fillForm(c) {
  const form = $("case-form");
  form.reset();
  state.pain.clear(); state.extra = []; state.historyAbsent.clear(); state.skipped = []; state.answered = [];
  for (const row of document.querySelectorAll(".flag")) row.classList.add("unasked");
  const items = (x) => (Array.isArray(x) ? x : []);
  for (const p of items(c.pain)) {
    const [site, side] = typeof p === "string" ? p.split(":") : [p.site, p.side];
    if (site) state.pain.set(`${site}|${side || ""}`, { site, side: side || null });
  }
  const put = (kind, section, item, value) => {
    const [id, sideRaw] = typeof item === "string" ? item.split(":") : [item.id, item.side];
    const select = form.querySelector(`select[name='${kind}:${id}']`);
    const sideBox = form.querySelector(`select[name='${kind}-side:${id}']`);
    if (select && !select.value) { select.value = value; if (sideBox && sideRaw) sideBox.value = sideRaw; revealControl(select); }
    else state.extra.push([section, item]);
  };
  for (const t of items(c.tests)) put("test", "tests", t, typeof t === "string" ? (t.split(":")[1] || "positive") : t.result);
  for (const f of items(c.findings)) put("finding", "findings", f, typeof f === "string" || f.present !== false ? "present" : "absent");
  for (const r of items(c.red_flags)) {
    const id = typeof r === "string" ? r : r.id;
    const present = typeof r === "string" ? true : r.present;
    const select = form.querySelector(`select[name='flag:${id}']`);
    const value = present === "unsure" ? "unsure" : present === false ? "no" : "yes";
    if (select) { select.value = value; select.dispatchEvent(new Event("change")); } else state.extra.push(["red_flags", r]);
  }
  for (const h of items(c.history)) {
    const id = typeof h === "string" ? h : h.id;
    const box = form.querySelector(`input[name='history:${id}']`);
    if (box && (typeof h === "string" || h.present !== false)) box.checked = true;
    else if (typeof h === "object" && h.present === false) state.historyAbsent.add(id);
    else state.extra.push(["history", h]);
  }
  for (const section of ["yellow_flags", "diagnoses"]) for (const x of items(c[section])) state.extra.push([section, x]);
  $("note").value = typeof c.text === "string" ? c.text : "";
  updateCounts();
  painChanged();
}

async function openFromHash() {
  let c;
  try { c = decodeCase(location.hash); } catch (e) { $("status").textContent = `The case in the link could not be read: ${e.message}`; return; }
  if (!c || typeof c !== "object") return;
  fillForm(c);
  await consult();
}

// -- start -------------------------------------------------------------------------------------------------------
async function init() {
  const [vocab, atlas] = await Promise.all([
    apiJSON("/v1/kb/vocabulary"),
    loadAtlas((id) => id.replace(/_/g, " ")),
  ]);
  state.vocab = vocab;
  state.atlas = atlas;
  if (atlas.fallback) {
    for (const v of Object.values(atlas.views)) for (const z of v.zones) z.label = painLabel(z.site);
    $("atlas-note").hidden = false;
    $("atlas-note").textContent = "Simple figure: the detailed body atlas is not available on this server.";
  }
  $("kb-version").textContent = `Knowledge base: ${vocab.kb_version}`;
  const all = $("flags");
  for (const f of sortedFlags()) all.append(flagRow(f));
  drawInputMap($("map-front"), atlas, "front", setPain);
  drawInputMap($("map-back"), atlas, "back", setPain);
  setUpSearch();
  grouped($("findings"), vocab.finding, "finding");
  grouped($("tests"), vocab.test, "test");
  for (const h of vocab.history) $("history").append(el("label", {}, el("input", { type: "checkbox", name: `history:${h.id}` }), el("span", { text: h.label })));
  $("interview-start").addEventListener("click", refreshInterviewNow);
  $("new-case").addEventListener("click", () => {
    resultsCurrent();
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    fillForm({});
    $("results").hidden = true;
    $("interview-body").textContent = "";
    $("interview-body").append(el("p", { class: "small", text: "Choose where it hurts, then ask for a suggestion." }));
    $("pain-search").focus();
  });
  $("case-form").addEventListener("submit", (e) => { e.preventDefault(); consult(); });
  $("case-form").addEventListener("change", caseChanged);
  $("note").addEventListener("input", caseChanged);
  $("note").addEventListener("input", debounce(() => { if (!state.pain.size) refreshInterview(); }, 600));
  setUpPanZoom();
  setUpDocuments();
  window.addEventListener("hashchange", openFromHash);
  document.body.dataset.ready = "true";
  await openFromHash();
}

init().catch((e) => { $("status").textContent = `Could not load the knowledge base: ${e.message}`; });
