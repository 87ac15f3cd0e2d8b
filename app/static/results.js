// compensa web page: the report shown in full — triage, body picture, root causes with evidence, conditions,
// targets (explained on click), what-if toggles, the explanation graph with pan and zoom, and documents.
// Text goes in with textContent only (el() from dom.js).
"use strict";

async function post(path, body) {
  const response = await api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  if (!response.ok) {
    let message = `${response.status}`;
    try { message = problemText(await response.json(), response.status); } catch (e) { /* keep the status */ }
    throw new Error(message);
  }
  return response;
}

const sideText = (side) => (side ? ` (${side})` : "");
const num = (x) => (typeof x === "number" ? x.toFixed(2) : String(x));

// -- triage --------------------------------------------------------------------------------------------
const SCREENING_WORDS = { none: "Red flags not screened", partial: "Red flags partly screened" };

function showTriage(report) {
  const triage = $("triage");
  const t = report.triage;
  const alarms = t.red_flags.concat(t.clusters || [], (t.unmatched || []).map((u) => `'${u}' (not recognised)`));
  const flagged = alarms.length > 0 || report.plan_withheld;
  const screened = t.screened;
  const unscreened = !flagged && screened !== "complete";   // never a green "clear" banner
  triage.className = `triage ${t.level}${unscreened ? " unscreened" : ""}`;
  triage.setAttribute("data-level", t.level);
  triage.setAttribute("data-screened", screened);
  const heading = `Triage: ${t.level.replace("_", " ").toUpperCase()}`;
  const words = unscreened && !t.advice.startsWith(SCREENING_WORDS[screened]) ? ` — ${SCREENING_WORDS[screened]}. ` : ". ";
  const summary = alarms.length ? ` — red flags: ${alarms.join(", ")}. ` : words;
  const seek = report.plan_withheld ? "Seek medical care first: the exercise plan is withheld. " : "";
  triage.textContent = heading + summary + seek + t.advice;
  showScreening(screened === "complete" ? { questions: [] } : { questions: t.ask || [], general: t.general_screening }, alarms.length > 0);
}

function showScreening({ questions, general }, flagged) {
  const box = $("screening");
  box.textContent = "";
  box.hidden = !questions.length;
  if (!questions.length) return;
  const lead = flagged ? "Also ask" : "Ask before any exercise";
  box.append(el("p", { text: `${lead} (${general ? "general screening questions" : "not yet asked for this pain"}):` }));
  box.append(el("ul", {}, ...questions.map((q) => el("li", { "data-flag": q.id },
    el("strong", { text: `${q.label} ` }), el("span", { class: "small", text: `[${q.level}] ` }), el("span", { text: q.question })))));
}

function showWarnings(report) {
  const list = $("warnings");
  list.textContent = "";
  const shown = (report.warnings || []).filter((w) => w.code !== "not_screened");
  list.hidden = !shown.length;
  for (const w of shown) list.append(el("li", { "data-code": w.code, text: w.message }));
}

function showUnrecognised(report) {
  // What the case held that the KB does not know comes first: it was not used.
  const list = $("unrecognised");
  list.textContent = "";
  const items = report.unrecognised || [];
  list.hidden = !items.length;
  for (const u of items) {
    const hint = u.suggestions && u.suggestions.length ? ` — did you mean ${u.suggestions.join(", ")}?` : "";
    list.append(el("li", { "data-term": u.term, text: `Not understood, not used: '${u.term}' (${u.where})${hint}` }));
  }
}

// -- root causes, conditions, dysfunctions ---------------------------------------------------------------
function confidenceBar(value) {
  const v = Math.max(0, Math.min(1, value || 0));
  const track = el("span", { class: "bar-track", role: "img", "aria-label": `confidence ${num(value)}` });
  const fill = el("span", { class: "bar-fill" });
  fill.style.width = `${Math.round(v * 100)}%`;   // CSSOM, allowed by the CSP (no style attribute)
  track.append(fill);
  return track;
}

function evidenceWords(e) {
  if (typeof e === "string") return e.replace(/_/g, " ");
  const w = typeof e.weight === "number" ? ` ${e.weight >= 0 ? "+" : ""}${e.weight.toFixed(2)}` : "";
  return `${e.label || e.id} ${e.value || ""}${sideText(e.side)}${w}`.replace(/\s+/g, " ").trim();
}

function evidenceList(title, cls, items, label) {
  if (!items || !items.length) return null;
  return el("div", { class: `evidence ${cls}` }, el("span", { class: "ev-title", text: title }),
    el("ul", { "aria-label": `${title} ${label}` }, ...items.map((e) => el("li", { text: evidenceWords(e) }))));
}

function showRoots(report) {
  const roots = $("roots");
  roots.textContent = "";
  if (!report.root_causes.length) {
    roots.append(el("li", { text: report.plan_withheld && report.engine && report.engine.halted ? "Not assessed: emergency red flag." : "None likely yet: see next assessments." }));
  }
  for (const r of report.root_causes.slice(0, 8)) {
    const name = `${r.label}${sideText(r.side)}`;
    const li = el("li", { "data-root": r.id },
      el("div", { class: "root-head" }, el("strong", { text: name }), confidenceBar(r.confidence),
        el("span", { class: `status ${r.status}`, text: `${num(r.confidence)} ${r.status}${r.physically_confirmed ? "" : " (no physical sign yet)"}` })));
    const parts = [];
    if (r.tight && r.tight.length) parts.push(`tight: ${r.tight.join(", ").replace(/_/g, " ")}`);
    if (r.weak && r.weak.length) parts.push(`weak: ${r.weak.join(", ").replace(/_/g, " ")}`);
    if (parts.length) li.append(el("div", { class: "small", text: parts.join("; ") }));
    for (const part of [evidenceList("For:", "for", r.supporting, name), evidenceList("Against:", "against", r.conflicting, name),
      evidenceList("Would confirm it:", "unconfirmed", r.unconfirmed, name)]) if (part) li.append(part);
    roots.append(li);
  }
}

function showRanked(list, items, empty) {
  list.textContent = "";
  if (!items || !items.length) { list.append(el("li", { class: "small", text: empty })); return; }
  for (const c of items) {
    const codes = c.codes ? Object.entries(c.codes).map(([k, v]) => `${k} ${v}`).join(", ") : "";
    list.append(el("li", { "data-id": c.id }, el("strong", { text: `${c.label}${sideText(c.side)}` }), confidenceBar(c.confidence),
      el("span", { text: ` ${num(c.confidence)}` }),
      c.medical ? el("span", { class: "medical", text: " needs a medical diagnosis" }) : el("span"),
      codes ? el("span", { class: "small", text: ` (${codes})` }) : el("span")));
  }
}

// -- targets -----------------------------------------------------------------------------------------------
function exerciseCell(t) {
  // The exercise cell never shows a bare dash: a withheld exercise says what and why, a caution sits beside it.
  const cell = el("td", { class: "exercise" });
  if (t.exercise) {
    cell.append(el("div", { class: "ex-label", text: t.exercise.label }));
    if (t.exercise.dose) cell.append(el("div", { class: "dose", text: `Dose: ${t.exercise.dose}` }));
    if (t.exercise.how) cell.append(el("div", { class: "small", text: t.exercise.how }));
  } else if (t.caution || t.withheld) cell.append(el("div", { class: "withheld", text: "Withheld" }));
  else cell.append(el("div", { class: "small", text: "No exercise in the knowledge base: ask a clinician." }));
  if (t.caution) cell.append(el("div", { class: "caution", text: t.caution }));
  return cell;
}

function notesCell(t) {
  const cell = el("td", { class: "notes" });
  if (t.disagreement) cell.append(el("div", { class: "disagree", text: `A test disagrees: ${t.disagreement.text}.` }));
  else if (t.tentative) cell.append(el("div", { class: "tentative", text: "Tentative: no test confirms it yet; check the muscle before loading it." }));
  if (t.conflict) cell.append(el("div", { class: "conflict", text: t.conflict.note }));
  if (t.because) cell.append(el("div", { class: "small because", text: t.because }));
  return cell;
}

function showTargets(report, caseData) {
  const body = $("targets").querySelector("tbody");
  body.textContent = "";
  if (report.plan_withheld) body.append(el("tr", { class: "withheld-row" }, el("td", { colspan: "6", text: "Withheld: a red flag is present or unsure. Seek medical care first." })));
  else if (!report.targets.length) body.append(el("tr", { class: "empty-row" }, el("td", { colspan: "6", text: "No targets yet: record findings and tests (see next assessments)." })));
  for (const t of report.targets) {
    const where = el("td", { class: "where" }, t.painful ? el("span", { text: "painful area" }) : el("span", { class: "away-mark", text: "away" }));
    const row = el("tr", { "data-testid": `target-${t.muscle}`, "data-painful": String(t.painful), "data-tentative": String(Boolean(t.tentative)),
      tabindex: "0", role: "button", title: "Explain why" },   // named by its own text
      el("td", { class: "muscle", text: t.label }), el("td", { class: t.action, text: t.action }), el("td", { class: "side", text: t.side || "both" }), where,
      exerciseCell(t), notesCell(t));
    row.addEventListener("click", () => explainTarget(caseData, t.muscle));
    row.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); explainTarget(caseData, t.muscle); }
    });
    body.append(row);
  }
}

async function explainTarget(caseData, muscle) {
  const why = $("why");
  why.hidden = false;
  why.textContent = "Explaining…";
  try {
    const data = await (await post("/v1/explain", { ...caseData, target: muscle })).json();
    why.textContent = data.text;
  } catch (e) { why.textContent = `Could not explain: ${e.message}`; }
}

// -- what if ------------------------------------------------------------------------------------------------
const FLIP = { positive: "negative", negative: "positive" };

function whatIfItems(caseData) {
  const items = [];
  for (const t of caseData.tests || []) items.push({ section: "tests", id: t.id, side: t.side || null, value: t.result, item: t });
  for (const f of caseData.findings || []) items.push({ section: "findings", id: f.id, side: f.side || null, value: f.present === false ? "absent" : "present", item: f });
  return items;
}

function showWhatIf(caseData, labelOf) {
  const list = $("whatif");
  list.textContent = "";
  $("whatif-out").hidden = true;
  const items = whatIfItems(caseData);
  if (!items.length) { list.append(el("li", { class: "small", text: "Nothing recorded to change: add a finding or test." })); return; }
  for (const it of items) {
    const name = `${labelOf(it.id)} ${it.value}${sideText(it.side)}`;
    const remove = el("button", { type: "button", class: "secondary toggle", "aria-pressed": "false", "data-testid": `whatif-remove-${it.id}`, text: "Without it" });
    const flipped = it.section === "tests" ? FLIP[it.value] : (it.value === "present" ? "absent" : "present");
    const flip = el("button", { type: "button", class: "secondary toggle", "aria-pressed": "false", "data-testid": `whatif-flip-${it.id}`, text: `If ${flipped}` });
    const run = async (button, body) => {
      const on = button.getAttribute("aria-pressed") !== "true";
      for (const b of list.querySelectorAll("button.toggle")) b.setAttribute("aria-pressed", "false");
      if (!on) { $("whatif-out").hidden = true; return; }
      button.setAttribute("aria-pressed", "true");
      await whatIf(caseData, body, `${name} → ${button.textContent.toLowerCase()}`);
    };
    const gone = { [it.section]: [it.side ? { id: it.id, side: it.side } : { id: it.id }] };
    const changed = it.section === "tests" ? { ...it.item, result: flipped } : { ...it.item, present: flipped === "present" };
    remove.addEventListener("click", () => run(remove, { add: {}, remove: gone }));
    flip.addEventListener("click", () => run(flip, { add: { [it.section]: [changed] }, remove: {} }));
    list.append(el("li", { "data-item": it.id }, el("span", { class: "wi-name", text: name }), el("span", { class: "wi-buttons" }, remove, flip)));
  }
}

async function whatIf(caseData, { add, remove }, title) {
  const out = $("whatif-out");
  out.hidden = false;
  out.textContent = "Working out what changes…";
  try {
    const data = await (await post("/v1/whatif", { case: caseData, add, remove })).json();
    out.textContent = "";
    out.append(el("p", { class: "wi-title", text: `What if: ${title}` }));
    if (!data.changes.length) { out.append(el("p", { text: "Nothing a clinician would act on changes." })); return; }
    out.append(el("ul", {}, ...data.changes.map((c) => el("li", {
      "data-kind": c.kind, "data-id": c.id, "data-before": String(c.before), "data-after": String(c.after),
    }, el("span", { class: "wi-change", text: `${typeof c.before === "number" ? num(c.before) : c.before} → ${typeof c.after === "number" ? num(c.after) : c.after}` }),
    el("span", { text: ` ${c.why}` })))));
  } catch (e) { out.textContent = `What-if failed: ${e.message}`; }
}

// -- explanation graph with pan and zoom ----------------------------------------------------------------------
const view = { scale: 1, x: 0, y: 0 };

function applyView() {
  const img = document.querySelector("#graph img");
  if (img) img.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.scale})`;   // CSSOM
}

function zoomBy(factor, cx, cy) {
  const next = Math.min(8, Math.max(0.25, view.scale * factor));
  const f = next / view.scale;
  if (cx !== undefined) { view.x = cx - (cx - view.x) * f; view.y = cy - (cy - view.y) * f; }
  view.scale = next;
  applyView();
}

function resetView() { view.scale = 1; view.x = 0; view.y = 0; applyView(); }

function setUpPanZoom() {
  const box = $("graph");
  $("zoom-in").addEventListener("click", () => zoomBy(1.25));
  $("zoom-out").addEventListener("click", () => zoomBy(0.8));
  $("zoom-reset").addEventListener("click", resetView);
  box.addEventListener("wheel", (e) => {
    if (!box.querySelector("img")) return;
    e.preventDefault();
    const r = box.getBoundingClientRect();
    zoomBy(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  let drag = null;
  box.addEventListener("pointerdown", (e) => {
    if (!box.querySelector("img")) return;
    drag = { x: e.clientX - view.x, y: e.clientY - view.y };
    box.setPointerCapture(e.pointerId);
    box.classList.add("dragging");
  });
  box.addEventListener("pointermove", (e) => { if (drag) { view.x = e.clientX - drag.x; view.y = e.clientY - drag.y; applyView(); } });
  const end = () => { drag = null; box.classList.remove("dragging"); };
  box.addEventListener("pointerup", end);
  box.addEventListener("pointercancel", end);
  box.addEventListener("keydown", (e) => {
    const moves = { ArrowLeft: [40, 0], ArrowRight: [-40, 0], ArrowUp: [0, 40], ArrowDown: [0, -40] };
    if (moves[e.key]) { e.preventDefault(); view.x += moves[e.key][0]; view.y += moves[e.key][1]; applyView(); }
    else if (e.key === "+" || e.key === "=") { e.preventDefault(); zoomBy(1.25); }
    else if (e.key === "-") { e.preventDefault(); zoomBy(0.8); }
    else if (e.key === "0") { e.preventDefault(); resetView(); }
  });
}

async function showGraph(caseData) {
  const graph = $("graph");
  graph.textContent = "Drawing…";
  resetView();
  try {
    const response = await post("/v1/explain?format=svg", caseData);
    const blob = await response.blob();
    graph.textContent = "";
    if ((response.headers.get("content-type") || "").startsWith("image/svg")) {
      const img = el("img", { alt: "explanation graph: evidence, root causes, conditions and targets", "data-testid": "graph", draggable: "false" });
      img.src = URL.createObjectURL(blob);   // an <img> never runs scripts inside the SVG
      graph.append(img);
    } else graph.append(el("pre", { text: await blob.text() }));
  } catch (e) { graph.textContent = `No graph: ${e.message}`; }
}

// -- documents --------------------------------------------------------------------------------------------------
async function openDocument(caseData, path, format) {
  const status = $("doc-status");
  status.textContent = "Preparing…";
  try {
    let blob = await (await post(`${path}?format=${format}`, caseData)).blob();
    if (format === "html") {
      // A blob: page has no hierarchical base: make the document's own links (its stylesheet) absolute.
      const text = (await blob.text()).replace(/(href|src)="\/(?!\/)/g, `$1="${location.origin}/`);
      blob = new Blob([text], { type: "text/html" });
    }
    const url = URL.createObjectURL(blob);
    const name = path.endsWith("handout") ? "handout" : "clinician-report";
    if (format === "pdf") {
      const a = el("a", { href: url, download: `compensa-${name}.pdf` });
      document.body.append(a); a.click(); a.remove();
      status.textContent = "PDF downloaded.";
    } else {
      const opened = window.open(url, "_blank");
      status.textContent = "";
      status.append(opened ? "Opened in a new tab. " : "", el("a", { href: url, target: "_blank", rel: "noopener", text: `Open the ${name.replace("-", " ")}` }));
    }
  } catch (e) { status.textContent = `Could not make the document: ${e.message}`; }
}

let documentCase = null;

function setUpDocuments() {
  const bind = (id, path, format) => $(id).addEventListener("click", () => documentCase && openDocument(documentCase, path, format));
  bind("doc-report", "/v1/clinician-report", "html");
  bind("doc-report-pdf", "/v1/clinician-report", "pdf");
  bind("doc-handout", "/v1/handout", "html");
  bind("doc-handout-pdf", "/v1/handout", "pdf");
}

// -- the whole report ---------------------------------------------------------------------------------------------
function showReport(report, caseData, ctx) {
  const results = $("results");
  results.hidden = false;
  documentCase = caseData;
  showUnrecognised(report);
  showTriage(report);
  showWarnings(report);
  drawPicture($("picture"), ctx.atlas, report, caseData, ctx.regionOfPain);
  showRoots(report);
  showRanked($("conditions"), report.conditions, "None likely yet.");
  showRanked($("dysfunctions"), report.dysfunctions, "None found.");
  showTargets(report, caseData);
  const next = $("next");
  next.textContent = "";
  if (!report.next_assessments.length) next.append(el("li", { class: "small", text: "None suggested." }));
  for (const n of report.next_assessments) {
    next.append(el("li", {}, el("strong", { text: `${n.label}${sideText(n.side)}` }), el("span", { text: ` — ${n.why}` }),
      n.how ? el("div", { class: "small", text: `How: ${n.how}` }) : el("span")));
  }
  const criteria = report.criteria || [];
  $("criteria-box").hidden = !criteria.length;
  $("criteria").textContent = "";
  for (const c of criteria) {
    $("criteria").append(el("li", {}, el("strong", { text: `${c.label}${sideText(c.side)}` }),
      el("span", { text: `${c.alarm ? " [" + c.alarm + "]" : ""}${c.advice ? " — " + c.advice : ""}` })));
  }
  const psycho = report.psychosocial;
  $("psychosocial-box").hidden = !psycho;
  if (psycho) $("psychosocial").textContent = `${psycho.tool}: ${String(psycho.risk).replace(/_/g, " ")}. ${psycho.advice || ""}`;
  showWhatIf(caseData, ctx.labelOf);
  $("review").textContent = report.review_advice || "";
  $("disclaimer").textContent = report.disclaimer;
  $("why").hidden = true;
  results.dataset.shownAt = String(Math.round(performance.now()));
}
