// compensa KB browser: search the vocabulary, show one entry (GET /v1/kb/entries/{id}) with its links both
// ways and the chain around it (SVG from the same endpoint, and as text). Deep link: /kb#<id>.
// Every piece of text is inserted with textContent (never innerHTML), so no data can inject markup.
"use strict";

const kbState = { names: [] };   // [{id, label, kind, aliases}]
// $ and el come from dom.js

const words = (id) => String(id).replace(/_/g, " ");
function say(text) { $("status").textContent = text; }

function open(id) {
  if (location.hash === "#" + encodeURIComponent(id)) show(id); else location.hash = encodeURIComponent(id);
}

function entryButton(id, text) {
  return el("button", { type: "button", class: "link", text: text || words(id), title: id, onclick: () => open(id) });
}

// -- search ---------------------------------------------------------------------------------------
function matches(term) {
  const t = term.trim().toLowerCase();
  if (t.length < 2) return [];
  return kbState.names.filter((n) => n.id.includes(t.replace(/ /g, "_")) || n.label.toLowerCase().includes(t)
    || n.aliases.some((a) => a.toLowerCase().includes(t))).slice(0, 15);
}

function showMatches() {
  const list = $("matches");
  list.replaceChildren(...matches($("term").value).map((n) => el("li", {}, entryButton(n.id, n.label),
    el("span", { class: "small", text: ` ${words(n.kind)} · ${n.id}` }))));
}

// -- one entry ------------------------------------------------------------------------------------
const SCALARS = ["kind", "region", "level", "category", "question", "how", "reading", "summary", "mechanism",
  "advice", "dose", "source", "source_citation", "evidence", "citation", "url"];

function fieldList(entry) {
  const dl = el("dl", { class: "fields" });
  if (entry.aliases && entry.aliases.length) dl.append(el("dt", { text: "also called" }), el("dd", { text: entry.aliases.join(", ") }));
  for (const key of SCALARS) {
    const value = entry[key];
    if (value === undefined || value === null || value === "" || typeof value === "object") continue;
    dl.append(el("dt", { text: words(key) }), el("dd", { text: String(value) }));
  }
  return dl;
}

function linkItem(link) {
  const li = el("li", {}, entryButton(link.id));
  li.append(el("span", { text: ` (strength ${link.strength}, evidence ${link.evidence}) ` }));
  if (link.mechanism) li.append(el("span", { class: "small", text: link.mechanism }));
  if (link.source) li.append(el("span", { class: "small", text: ` [${link.source}]` }));
  return li;
}

function idList(title, ids) {
  if (!ids || !ids.length) return [];
  const ul = el("ul", { class: "ids" }, ...ids.map((x) => el("li", {}, typeof x === "string" ? entryButton(x) : entryButton(x.id, `${words(x.id)} (${x.strength})`))));
  return [el("h3", { text: title }), ul];
}

function linkSections(entry) {
  const out = [];
  if (entry.caused_by && entry.caused_by.length) out.push(el("h3", { text: "Caused by (links in)" }), el("ul", { class: "links" }, ...entry.caused_by.map(linkItem)));
  if (entry.leads_to && entry.leads_to.length) out.push(el("h3", { text: "Leads to (links out)" }), el("ul", { class: "links" }, ...entry.leads_to.map(linkItem)));
  if (entry.in_roots) {
    out.push(...idList("Tight in", entry.in_roots.tight), ...idList("Weak in", entry.in_roots.weak));
  }
  if (entry.tight) out.push(...idList("Tight muscles", entry.tight));
  if (entry.weak) out.push(...idList("Weak muscles", entry.weak));
  out.push(...idList("Conditions that hurt here", entry.conditions), ...idList("Muscles here", entry.muscles_here),
    ...idList("Assessed by", entry.assessed_by), ...idList("Exercises", entry.exercises),
    ...idList("Read by criteria", entry.in_criteria), ...idList("Cited by", entry.cited_by));
  return out;
}

function outcomes(entry) {
  if (!entry.outcomes) return [];
  const ul = el("ul", { class: "links" });
  for (const [result, effects] of Object.entries(entry.outcomes)) {
    for (const e of effects) {
      const target = String(e.target);
      const muscle = target.includes(":") ? target.split(":")[1] : target;
      ul.append(el("li", { text: `${result}: ${e.strength > 0 ? "supports" : "argues against"} ${words(target)} (${e.strength}) ` }, entryButton(muscle, "open")));
    }
  }
  return [el("h3", { text: "What a result means" }), ul];
}

function entryCard(entry) {
  const card = el("article", { class: "entry" }, el("h3", { text: `${words(entry.entry_type)}: ${entry.label || entry.id}` }));
  card.append(fieldList(entry), ...linkSections(entry), ...outcomes(entry));
  card.append(el("p", { class: "small", text: `defined at ${entry.at}` }));
  return card;
}

function chainText(chain) {
  const list = $("chain-text");
  list.replaceChildren();
  const label = Object.fromEntries(chain.nodes.map((n) => [n.id, n.label]));
  for (const e of chain.edges) {
    const li = el("li", { text: `${label[e.from] || e.from} → ${label[e.to] || e.to} (${e.relation}, ${e.strength}) ` });
    if (e.mechanism) li.append(el("span", { class: "small", text: e.mechanism }));
    list.append(li);
  }
  if (!chain.edges.length) list.append(el("li", { class: "small", text: "no chain links: this entry is read by rules (see above), not part of the chain network" }));
}

async function chainGraph(data) {
  const box = $("chain-graph");
  box.replaceChildren();
  if (!data.chain.edges.length) return;
  const missing = () => box.replaceChildren(el("p", { class: "small", text: "graph not available (Graphviz is not installed on the server); the chain is listed below" }));
  try {
    const response = await api(`/v1/kb/entries/${encodeURIComponent(data.id)}?format=svg`);   // with the key, if any
    if (!response.ok || !(response.headers.get("content-type") || "").startsWith("image/svg")) { missing(); return; }
    const img = el("img", { alt: `chain graph around ${data.label}` });
    img.addEventListener("error", missing);
    img.src = URL.createObjectURL(await response.blob());   // an <img> never runs scripts inside the SVG
    box.replaceChildren(img);
  } catch (e) { missing(); }
}

async function show(term) {
  if (!term) return;
  say("loading…");
  const response = await api(`/v1/kb/entries/${encodeURIComponent(term)}`);
  let data = {};
  try { data = await response.json(); } catch (e) { /* not JSON */ }
  if (!response.ok) {
    const d = Array.isArray(data.detail) ? data.detail[0] || {} : { msg: data.detail ? String(data.detail) : `error ${response.status}` };
    say(`${d.msg || "not found"}${d.suggestions && d.suggestions.length ? " — did you mean:" : ""}`);
    $("matches").replaceChildren(...(d.suggestions || []).map((s) => el("li", {}, entryButton(s))));
    return;
  }
  say("");
  $("entry-title").textContent = `${data.label} (${data.id})`;
  $("entry-body").replaceChildren(...data.entries.map(entryCard));
  chainGraph(data);
  chainText(data.chain);
  $("entry").hidden = false;
  $("entry-title").focus();
}

async function start() {
  let vocab;
  try { vocab = await apiJSON("/v1/kb/vocabulary"); } catch (err) { say(`Could not load the knowledge base: ${err.message}`); return; }
  $("kb-version").textContent = vocab.kb_version || "";
  for (const [kind, entries] of Object.entries(vocab)) {
    if (!Array.isArray(entries)) continue;
    for (const e of entries) kbState.names.push({ id: e.id, label: e.label, kind, aliases: e.aliases || [] });
  }
  $("names").replaceChildren(...kbState.names.map((n) => el("option", { value: n.label })));
  $("term").addEventListener("input", showMatches);
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); open($("term").value.trim()); });
  window.addEventListener("hashchange", () => show(decodeURIComponent(location.hash.slice(1))));
  if (location.hash.length > 1) show(decodeURIComponent(location.hash.slice(1)));
}

start();
