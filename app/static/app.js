// compensa web page: builds a case from the form, calls the HTTP API, shows the report and the graph.
// Every piece of text is inserted with textContent (never innerHTML), so no input can inject markup.
"use strict";

const state = { vocab: null, pain: new Map() };   // pain: "site|side" -> {site, side}

// Body-map zones. Front view: the figure faces you, so its right side is on the viewer's left.
// Back view: you see its back, so its right side is on the viewer's right.
const FRONT = [
  ["ellipse", { cx: 100, cy: 30, rx: 22, ry: 26 }, "head", null],
  ["ellipse", { cx: 100, cy: 50, rx: 13, ry: 6 }, "jaw", null],
  ["rect", { x: 90, y: 57, width: 20, height: 13 }, "neck", null],
  ["rect", { x: 72, y: 74, width: 56, height: 46 }, "chest", null],
  ["rect", { x: 72, y: 121, width: 27, height: 11 }, "ribs", "right"], ["rect", { x: 101, y: 121, width: 27, height: 11 }, "ribs", "left"],
  ["circle", { cx: 60, cy: 82, r: 12 }, "shoulder", "right"], ["circle", { cx: 140, cy: 82, r: 12 }, "shoulder", "left"],
  ["rect", { x: 40, y: 96, width: 15, height: 37 }, "arm", "right"], ["rect", { x: 145, y: 96, width: 15, height: 37 }, "arm", "left"],
  ["rect", { x: 40, y: 134, width: 7, height: 14 }, "lateral_elbow", "right"], ["rect", { x: 48, y: 134, width: 7, height: 14 }, "medial_elbow", "right"],
  ["rect", { x: 153, y: 134, width: 7, height: 14 }, "lateral_elbow", "left"], ["rect", { x: 145, y: 134, width: 7, height: 14 }, "medial_elbow", "left"],
  ["rect", { x: 40, y: 149, width: 15, height: 42 }, "wrist_forearm", "right"], ["rect", { x: 145, y: 149, width: 15, height: 42 }, "wrist_forearm", "left"],
  ["rect", { x: 58, y: 160, width: 14, height: 32 }, "lateral_hip", "right"], ["rect", { x: 128, y: 160, width: 14, height: 32 }, "lateral_hip", "left"],
  ["rect", { x: 78, y: 172, width: 21, height: 18 }, "groin", "right"], ["rect", { x: 101, y: 172, width: 21, height: 18 }, "groin", "left"],
  ["rect", { x: 62, y: 196, width: 10, height: 68 }, "lateral_thigh", "right"], ["rect", { x: 128, y: 196, width: 10, height: 68 }, "lateral_thigh", "left"],
  ["rect", { x: 73, y: 196, width: 19, height: 68 }, "anterior_thigh", "right"], ["rect", { x: 108, y: 196, width: 19, height: 68 }, "anterior_thigh", "left"],
  ["rect", { x: 92.5, y: 196, width: 6, height: 68 }, "medial_thigh", "right"], ["rect", { x: 101.5, y: 196, width: 6, height: 68 }, "medial_thigh", "left"],
  ["rect", { x: 64, y: 270, width: 8, height: 20 }, "lateral_knee", "right"], ["rect", { x: 128, y: 270, width: 8, height: 20 }, "lateral_knee", "left"],
  ["ellipse", { cx: 84, cy: 280, rx: 11, ry: 10 }, "anterior_knee", "right"], ["ellipse", { cx: 116, cy: 280, rx: 11, ry: 10 }, "anterior_knee", "left"],
  ["rect", { x: 95.5, y: 270, width: 4, height: 20 }, "medial_knee", "right"], ["rect", { x: 100.5, y: 270, width: 4, height: 20 }, "medial_knee", "left"],
  ["rect", { x: 75, y: 294, width: 18, height: 80 }, "shin", "right"], ["rect", { x: 107, y: 294, width: 18, height: 80 }, "shin", "left"],
  ["circle", { cx: 71, cy: 380, r: 5 }, "lateral_ankle", "right"], ["circle", { cx: 97, cy: 380, r: 5 }, "medial_ankle", "right"],
  ["circle", { cx: 129, cy: 380, r: 5 }, "lateral_ankle", "left"], ["circle", { cx: 103, cy: 380, r: 5 }, "medial_ankle", "left"],
  ["ellipse", { cx: 84, cy: 390, rx: 12, ry: 4 }, "foot_arch", "right"], ["ellipse", { cx: 116, cy: 390, rx: 12, ry: 4 }, "foot_arch", "left"],
  ["ellipse", { cx: 84, cy: 399, rx: 11, ry: 4 }, "midfoot", "right"], ["ellipse", { cx: 116, cy: 399, rx: 11, ry: 4 }, "midfoot", "left"],
  ["ellipse", { cx: 84, cy: 410, rx: 12, ry: 6 }, "forefoot", "right"], ["ellipse", { cx: 116, cy: 410, rx: 12, ry: 6 }, "forefoot", "left"],
];
const BACK = [
  ["ellipse", { cx: 100, cy: 30, rx: 22, ry: 26 }, "head", null],
  ["rect", { x: 90, y: 56, width: 20, height: 14 }, "neck", null],
  ["rect", { x: 72, y: 74, width: 56, height: 50 }, "upper_back", null],
  ["circle", { cx: 60, cy: 82, r: 12 }, "shoulder", "left"], ["circle", { cx: 140, cy: 82, r: 12 }, "shoulder", "right"],
  ["rect", { x: 40, y: 96, width: 15, height: 95 }, "arm", "left"], ["rect", { x: 145, y: 96, width: 15, height: 95 }, "arm", "right"],
  ["rect", { x: 76, y: 127, width: 48, height: 30 }, "lower_back", null],
  ["rect", { x: 84, y: 160, width: 32, height: 13 }, "sacroiliac", null],
  ["ellipse", { cx: 86, cy: 189, rx: 14, ry: 14 }, "buttock", "left"], ["ellipse", { cx: 114, cy: 189, rx: 14, ry: 14 }, "buttock", "right"],
  ["rect", { x: 74, y: 206, width: 22, height: 62 }, "posterior_thigh", "left"], ["rect", { x: 104, y: 206, width: 22, height: 62 }, "posterior_thigh", "right"],
  ["ellipse", { cx: 85, cy: 280, rx: 10, ry: 8 }, "posterior_knee", "left"], ["ellipse", { cx: 115, cy: 280, rx: 10, ry: 8 }, "posterior_knee", "right"],
  ["rect", { x: 76, y: 292, width: 18, height: 76 }, "calf", "left"], ["rect", { x: 106, y: 292, width: 18, height: 76 }, "calf", "right"],
  ["rect", { x: 81, y: 370, width: 8, height: 20 }, "achilles", "left"], ["rect", { x: 111, y: 370, width: 8, height: 20 }, "achilles", "right"],
  ["ellipse", { cx: 85, cy: 398, rx: 9, ry: 6 }, "heel", "left"], ["ellipse", { cx: 115, cy: 398, rx: 9, ry: 6 }, "heel", "right"],
];

const SVGNS = "http://www.w3.org/2000/svg";
// $ and el come from dom.js

function siteLabel(id) {
  const site = state.vocab.pain.find((s) => s.id === id);
  return site ? site.label : id;
}

function drawMap(svg, zones, view) {
  for (const [shape, attrs, site, side] of zones) {
    const node = document.createElementNS(SVGNS, shape);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    node.setAttribute("class", "zone");
    node.setAttribute("tabindex", "0");
    node.dataset.site = site;
    node.dataset.side = side || "";
    node.setAttribute("data-testid", `zone-${view}-${site}${side ? "-" + side : ""}`);
    const title = document.createElementNS(SVGNS, "title");
    title.textContent = `${siteLabel(site)}${side ? " (" + side + ")" : ""}`;
    node.append(title);
    node.addEventListener("click", () => togglePain(site, side));
    node.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); togglePain(site, side); } });
    svg.append(node);
  }
  for (const [x, text] of [[20, view === "front" ? "R" : "L"], [180, view === "front" ? "L" : "R"]]) {
    const t = document.createElementNS(SVGNS, "text");
    t.setAttribute("x", x); t.setAttribute("y", 20); t.setAttribute("class", "maplabel"); t.textContent = text;
    svg.append(t);
  }
}

function togglePain(site, side) {
  const key = `${site}|${side || ""}`;
  if (state.pain.has(key)) state.pain.delete(key); else state.pain.set(key, { site, side });
  document.querySelectorAll(".zone").forEach((z) => {
    z.classList.toggle("on", state.pain.has(`${z.dataset.site}|${z.dataset.side}`));
  });
  const list = $("pain-list");
  list.textContent = "";
  if (!state.pain.size) list.textContent = "none";
  for (const { site: s, side: d } of state.pain.values()) list.append(el("span", { text: `${siteLabel(s)}${d ? " (" + d + ")" : ""}` }));
}

function sideSelect(name) {
  return el("select", { name, "aria-label": "side" },
    el("option", { value: "", text: "side: —" }), el("option", { value: "left", text: "left" }),
    el("option", { value: "right", text: "right" }), el("option", { value: "both", text: "both" }));
}

function grouped(container, entries, kind) {
  const regions = new Map();
  for (const e of entries) {
    if (!regions.has(e.region)) regions.set(e.region, []);
    regions.get(e.region).push(e);
  }
  const order = ["head", "neck", "shoulder", "chest", "upper_back", "arm", "abdomen", "lower_back", "pelvis", "hip", "thigh", "knee", "lower_leg", "foot"];
  for (const region of [...regions.keys()].sort((a, b) => order.indexOf(a) - order.indexOf(b))) {
    const fieldset = el("fieldset", {}, el("legend", { text: region.replace("_", " ") }));
    for (const e of regions.get(region)) {
      const values = kind === "finding" ? [["", "not recorded"], ["present", "present"], ["absent", "absent"]]
                                        : [["", "not done"], ["positive", "positive"], ["negative", "negative"]];
      const select = el("select", { name: `${kind}:${e.id}`, "data-testid": `${kind}-${e.id}`, "aria-label": e.label },
        ...values.map(([v, t]) => el("option", { value: v, text: t })));
      fieldset.append(el("div", { class: "item" }, el("strong", { text: e.label }), el("span", { class: "how", text: e.how }),
        select, e.sided ? sideSelect(`${kind}-side:${e.id}`) : el("span")));
    }
    container.append(fieldset);
  }
}

function buildCase() {
  const form = $("case-form");
  const data = { pain: [], findings: [], tests: [], red_flags: [], history: [] };
  for (const { site, side } of state.pain.values()) data.pain.push(side ? { site, side } : { site });
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
  const note = $("note").value.trim();
  if (note) data.text = note;
  return data;
}

async function post(path, body) {
  const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  if (!response.ok) {
    let message = `${response.status}`;
    try {
      const err = await response.json();
      message = Array.isArray(err.detail) ? err.detail.map((d) => `${d.loc.slice(1).join(".")}: ${d.msg}${d.suggestions && d.suggestions.length ? " (did you mean " + d.suggestions.join(", ") + "?)" : ""}`).join("; ") : err.detail;
    } catch (e) { /* keep the status */ }
    throw new Error(message);
  }
  return response;
}

// Screening as the report says it (none | partial | complete; never shown as clear unless complete).
function screeningOf(report) {
  return report.triage.screened;
}

// The red-flag questions not asked, as triage lists them (the general ones when no site has a list).
function questionsOf(report) {
  return { questions: report.triage.ask, general: report.triage.general_screening };
}

const SCREENING_WORDS = { none: "Red flags not screened", partial: "Red flags partly screened" };

function showTriage(report, caseData) {
  const triage = $("triage");
  const alarms = report.triage.red_flags.concat(report.triage.clusters || [], (report.triage.unmatched || []).map((t) => `'${t}' (not recognised)`));
  const flagged = alarms.length > 0;
  const screened = screeningOf(report);
  const unscreened = !flagged && screened !== "complete";   // never a green "clear" banner
  triage.className = `triage ${report.triage.level}${unscreened ? " unscreened" : ""}`;
  triage.setAttribute("data-level", report.triage.level);
  triage.setAttribute("data-screened", screened);
  const heading = `Triage: ${report.triage.level.replace("_", " ").toUpperCase()}`;
  const words = unscreened && !report.triage.advice.startsWith(SCREENING_WORDS[screened]) ? ` — ${SCREENING_WORDS[screened]}. ` : ". ";
  const summary = flagged ? ` — red flags: ${alarms.join(", ")}. ` : words;
  triage.textContent = heading + summary + report.triage.advice;
  showScreening(screened === "complete" ? { questions: [] } : questionsOf(report), flagged);
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

function showRoots(report) {
  const roots = $("roots");
  roots.textContent = "";
  if (!report.root_causes.length) roots.append(el("li", { text: report.plan_withheld && report.engine.halted ? "Not assessed: emergency red flag." : "None likely yet: see next assessments." }));
  for (const r of report.root_causes.slice(0, 6)) {
    const bar = el("span", { class: "bar" }); bar.style.width = `${Math.max(0, r.confidence) * 8}rem`;
    roots.append(el("li", {}, el("strong", { text: `${r.label}${r.side ? " (" + r.side + ")" : ""}` }), bar,
      el("span", { text: `${r.confidence.toFixed(2)} ${r.status}` })));
  }
}

// The exercise cell never shows a bare dash: a withheld exercise says what and why, a caution sits beside its exercise.
function exerciseCell(t) {
  const cell = el("td", { class: "exercise" });
  if (t.exercise) cell.append(el("div", { text: t.exercise.label }));
  else if (t.caution) cell.append(el("div", { class: "withheld", text: "Withheld" }));
  else cell.append(el("div", { class: "small", text: "No exercise in the knowledge base: ask a clinician." }));
  if (t.caution) cell.append(el("div", { class: "caution", text: t.caution }));
  return cell;
}

function notesCell(t) {
  const cell = el("td", { class: "notes" });
  if (t.disagreement) cell.append(el("div", { class: "disagree", text: `A test disagrees: ${t.disagreement.text}.` }));
  else if (t.tentative) cell.append(el("div", { class: "tentative", text: "Tentative: no test confirms it yet; check the muscle before loading it." }));
  if (t.conflict) cell.append(el("div", { class: "conflict", text: t.conflict.note }));
  return cell;
}

function showTargets(report, caseData) {
  const body = $("targets").querySelector("tbody");
  body.textContent = "";
  if (report.plan_withheld) body.append(el("tr", {}, el("td", { colspan: "6", text: "Withheld: a red flag is present or unsure. Seek medical care first." })));
  for (const t of report.targets) {
    const where = el("td", {}, t.painful ? el("span", { text: "painful area" }) : el("span", { class: "away-mark", text: "away" }));
    const row = el("tr", { "data-testid": `target-${t.muscle}`, "data-painful": String(t.painful), "data-tentative": String(Boolean(t.tentative)), title: t.because },
      el("td", { text: t.label }), el("td", { class: t.action, text: t.action }), el("td", { text: t.side || "both" }), where,
      exerciseCell(t), notesCell(t));
    // keyboard too: each row is a button (named by its own text) that explains why this muscle is a target
    row.setAttribute("tabindex", "0");
    row.setAttribute("role", "button");
    row.addEventListener("click", () => explainTarget(caseData, t.muscle));
    row.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); explainTarget(caseData, t.muscle); }
    });
    body.append(row);
  }
}

function showUnrecognised(report) {
  // What the case held that the KB does not know comes first: it was not used.
  const list = $("unrecognised");
  list.textContent = "";
  const items = report.unrecognised || [];
  list.hidden = !items.length;
  for (const u of items) {
    const hint = u.suggestions.length ? ` — did you mean ${u.suggestions.join(", ")}?` : "";
    list.append(el("li", { "data-term": u.term, text: `Not understood, not used: '${u.term}' (${u.where})${hint}` }));
  }
}

function showReport(report, caseData) {
  $("results").hidden = false;
  showUnrecognised(report);
  showTriage(report, caseData);
  showWarnings(report);
  showRoots(report);
  showTargets(report, caseData);
  const next = $("next");
  next.textContent = "";
  for (const n of report.next_assessments) next.append(el("li", {}, el("strong", { text: n.label }), el("span", { text: ` — ${n.why}` })));
  $("review").textContent = report.review_advice || "";
  $("disclaimer").textContent = report.disclaimer;
  $("why").hidden = true;
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

async function showGraph(caseData) {
  const graph = $("graph");
  graph.textContent = "Drawing…";
  try {
    const response = await post("/v1/explain?format=svg", caseData);
    const blob = await response.blob();
    const img = el("img", { alt: "explanation graph", "data-testid": "graph" });
    img.src = URL.createObjectURL(blob);   // an <img> never runs scripts inside the SVG
    graph.textContent = "";
    if (response.headers.get("content-type").startsWith("image/svg")) graph.append(img);
    else graph.append(el("pre", { text: await blob.text() }));
  } catch (e) { graph.textContent = `No graph: ${e.message}`; }
}

async function submit(event) {
  event.preventDefault();
  const status = $("status");
  const caseData = buildCase();
  status.textContent = "Consulting…";
  try {
    const report = await (await post("/v1/consult", caseData)).json();
    showReport(report, caseData);
    status.textContent = "";
    await showGraph(caseData);
    $("results").scrollIntoView({ behavior: "smooth" });
  } catch (e) { status.textContent = `Error: ${e.message}`; }
}

async function init() {
  state.vocab = await (await fetch("/v1/kb/vocabulary")).json();
  $("kb-version").textContent = `Knowledge base: ${state.vocab.kb_version}`;
  const flags = $("flags");
  const levels = { emergency: 0, urgent: 1, review: 2 };
  for (const f of [...state.vocab.red_flag].sort((a, b) => levels[a.level] - levels[b.level] || a.id.localeCompare(b.id))) {
    flags.append(el("label", { class: `flag ${f.level}` }, el("span", { class: "q", text: f.question }),
      el("select", { name: `flag:${f.id}`, "data-testid": `flag-${f.id}`, "aria-label": f.label },
        el("option", { value: "", text: "not asked" }), el("option", { value: "no", text: "no" }), el("option", { value: "yes", text: "yes" }),
        el("option", { value: "unsure", text: "unsure (counts as yes)" }))));
  }
  drawMap($("map-front"), FRONT, "front");
  drawMap($("map-back"), BACK, "back");
  grouped($("findings"), state.vocab.finding, "finding");
  grouped($("tests"), state.vocab.test, "test");
  for (const h of state.vocab.history) $("history").append(el("label", {}, el("input", { type: "checkbox", name: `history:${h.id}` }), ` ${h.label}`));
  $("case-form").addEventListener("submit", submit);
}

init().catch((e) => { $("status").textContent = `Could not load the knowledge base: ${e.message}`; });
