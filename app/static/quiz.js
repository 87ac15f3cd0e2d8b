// compensa quiz page: a library case with its findings hidden until asked, an answer scored by the API.
// The quiz API is stateless: the page keeps the case id, what was asked and the running score.
// Every piece of text is inserted with textContent (never innerHTML), so no data can inject markup.
"use strict";

const quiz = { vocab: null, caseId: null, asked: [], answered: false, points: 0, max: 0, cases: 0, view: null };
// $ and el come from dom.js

function problems(data) {
  const detail = Array.isArray(data.detail) ? data.detail : [{ msg: String(data.detail) }];
  return detail.map((d) => `${d.msg}${d.suggestions && d.suggestions.length ? " (did you mean " + d.suggestions.join(", ") + "?)" : ""}`).join("; ");
}

async function post(body) {
  const response = await api("/v1/quiz", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  let data = null;
  try { data = await response.json(); } catch (e) { data = { detail: String(response.status) }; }
  if (!response.ok) throw new Error(problems(data));
  return data;
}

function say(text) { $("status").textContent = text; }

function option(value, text) { return el("option", { value, text }); }

function fillRegions(regions) {
  const select = $("region");
  if (select.options.length > 1) return;
  for (const r of regions) select.append(option(r, r.replace(/_/g, " ")));
}

function showPresenting(view) {
  $("case-region").textContent = `(${view.region.replace(/_/g, " ")})`;
  $("presenting").textContent = view.presenting.text;
}

function askButtons(view) {
  const box = $("ask-related");
  box.replaceChildren();
  for (const c of view.choices.filter((c) => c.related)) {
    const button = el("button", { type: "button", class: `ask ${c.kind}`, text: c.label, title: `${c.kind}: ${c.id}`,
      "data-id": c.id, onclick: () => ask(c.id) });
    if (quiz.asked.includes(c.id)) button.disabled = true;
    box.append(button);
  }
  const select = $("ask-other");
  select.replaceChildren();
  for (const c of view.choices.filter((c) => !c.related)) select.append(option(c.id, `${c.label} (${c.kind.replace("_", " ")})`));
}

function showRevealed(view) {
  const list = $("revealed");
  list.replaceChildren();
  if (!view.revealed.length) list.append(el("li", { class: "small", text: "nothing asked yet" }));
  for (const item of view.revealed) list.append(el("li", { class: item.done ? "done" : "not-done", text: item.text }));
}

function render(view) {
  quiz.view = view;
  quiz.caseId = view.case_id;
  fillRegions(view.regions || []);
  showPresenting(view);
  askButtons(view);
  showRevealed(view);
  $("case").hidden = false;
  $("answer-section").hidden = quiz.answered;
}

async function newCase(event) {
  if (event) event.preventDefault();
  const body = { asked: [] };
  if ($("region").value) body.region = $("region").value;
  if ($("seed").value !== "") body.seed = Number($("seed").value);
  try {
    quiz.asked = []; quiz.answered = false;
    render(await post(body));
    $("result").hidden = true;
    resetAnswer();
    say("");
    $("presenting").focus();
  } catch (err) { $("running").textContent = "Could not load a case: " + err.message; }
}

async function ask(id) {
  if (!id || quiz.asked.includes(id)) return;
  try {
    render(await post({ case_id: quiz.caseId, asked: quiz.asked.concat([id]) }));
    quiz.asked = quiz.view.revealed.map((r) => r.id);
    askButtons(quiz.view);
  } catch (err) { say(err.message); }
}

function targetRow() {
  const n = $("targets").children.length + 1;
  const muscle = el("select", { id: `t-muscle-${n}`, name: "muscle" });
  for (const m of quiz.vocab.muscle) muscle.append(option(m.id, m.label));
  const action = el("select", { id: `t-action-${n}`, name: "action" }, option("stretch", "stretch"), option("strengthen", "strengthen"));
  const row = el("div", { class: "target-row" },
    el("label", { for: action.id, text: `Target ${n}: action` }), action,
    el("label", { for: muscle.id, text: "muscle" }), muscle);
  row.append(el("button", { type: "button", class: "secondary", text: "Remove", "aria-label": `remove target ${n}`, onclick: () => row.remove() }));
  $("targets").append(row);
  action.focus();
}

function resetAnswer() {
  $("targets").replaceChildren();
  $("root").value = "none";
  $("triage-answer").value = "";
}

function answerBody() {
  const targets = [...$("targets").querySelectorAll(".target-row")].map((row) => ({
    action: row.querySelector("select[name=action]").value, muscle: row.querySelector("select[name=muscle]").value }));
  const answer = { root: $("root").value, targets };
  if ($("triage-answer").value) answer.triage = $("triage-answer").value;
  return { case_id: quiz.caseId, asked: quiz.asked, answer };
}

function targetWords(items) { return items.map((t) => `${t.action} ${t.label}`).join(", ") || "none"; }

function scoreLines(score) {
  const root = score.root, t = score.targets;
  const verdict = root.correct ? "right" : root.partial ? "half a point: in compensa's top 3, not the expected root" : "wrong";
  const lines = [
    `Root: ${root.label} — ${verdict}. Expected: ${root.expected.join(", ") || "none"}; compensa's top 3: ${root.compensa_top3.join(", ") || "none"}.`,
    `Targets: precision ${t.precision.toFixed(2)}, recall ${t.recall.toFixed(2)}. Right: ${targetWords(t.correct)}. Missed: ${targetWords(t.missed)}. Not expected: ${targetWords(t.extra)}.`,
  ];
  const list = $("score-lines");
  list.replaceChildren(...lines.map((text) => el("li", { text })));
  if (t.harmful.length) list.append(el("li", { class: "harmful", text: `Harmful picks: ${targetWords(t.harmful)}` }));
  if (score.triage) list.append(el("li", { text: `Triage: ${score.triage.answer} — ${score.triage.correct ? "right" : "expected " + score.triage.expected.join(" or ")}` }));
}

function showScore(view) {
  const score = view.score;
  quiz.answered = true;
  quiz.points += score.points; quiz.max += score.max_points; quiz.cases += 1;
  $("points").textContent = `${score.points} / ${score.max_points}${score.full_marks ? " — full marks" : ""}`;
  scoreLines(score);
  const s = view.solution;
  $("solution").textContent = `${s.title} (${view.case_id}). ${s.summary} Sources: ${s.sources.join(", ")}.`;
  $("explanation").textContent = view.explanation ? view.explanation.text : "";
  $("running").textContent = `Running score: ${Math.round(quiz.points * 1000) / 1000} / ${quiz.max} over ${quiz.cases} case${quiz.cases === 1 ? "" : "s"}`;
  $("answer-section").hidden = true;
  $("result").hidden = false;
  $("next-case").focus();
}

async function submitAnswer(event) {
  event.preventDefault();
  if (quiz.answered) return;
  say("scoring…");
  try { showScore(await post(answerBody())); say(""); } catch (err) { say(err.message); }
}

async function start() {
  try { quiz.vocab = await apiJSON("/v1/kb/vocabulary"); } catch (err) { $("running").textContent = "Could not load the knowledge base: " + err.message; return; }
  const root = $("root");
  root.append(option("none", "none: no root imbalance (red flag first, or too little evidence)"));
  for (const r of quiz.vocab.root) root.append(option(r.id, r.label));
  $("pick-form").addEventListener("submit", newCase);
  $("ask-form").addEventListener("submit", (e) => { e.preventDefault(); ask($("ask-other").value); });
  $("answer-form").addEventListener("submit", submitAnswer);
  $("add-target").addEventListener("click", targetRow);
  $("next-case").addEventListener("click", () => {
    if ($("seed").value !== "") $("seed").value = String(Number($("seed").value) + 1);   // a seed gives a sequence
    newCase();
  });
  $("presenting").setAttribute("tabindex", "-1");
  await newCase();
}

start();
