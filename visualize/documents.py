"""Documents from a consultation: the patient's handout and the clinician's report, as HTML and PDF.

    from compensa.engine import consult
    from compensa.visualize.documents import clinician_report_html, handout_html, to_pdf
    report = consult(case)
    html = handout_html(report)          # the person's home programme, in plain words
    pdf = to_pdf(html)                   # WeasyPrint (the ``pdf`` extra), imported only here

The handout lists each exercise with its dosage and how to progress (KB data with sources), why it
was chosen (in lay words, from the report's own chain: target muscle -> root -> pain site), its
cautions, the safety net (the pain sites' red flags with the KB's advice) and a body picture. When a
red flag withholds the plan, it gives the care advice instead of exercises. Every piece of text from
the case or the KB is HTML-escaped: only the fragments built here are markup.
"""

from __future__ import annotations

import base64
import datetime as _dt
import importlib
import re
from collections.abc import Sequence
from html import escape
from importlib import resources
from string import Template

from compensa.errors import CompensaError, Problem
from compensa.visualize.body_figure import body_chains, body_marks, body_svg

__all__ = ["PDFUnavailable", "clinician_report_html", "handout_html", "lay_reason", "to_pdf"]


class PDFUnavailable(CompensaError):
    """WeasyPrint (the ``pdf`` extra) or the system libraries it needs are missing."""

    exit_code = 1


class _Html(str):
    """Markup built here (safe to insert as is); any other ``str`` is escaped on the way in."""


def _text(value: object) -> _Html:
    return value if isinstance(value, _Html) else _Html(escape(str(value)))


def _el(tag: str, content: object = "", cls: str = "") -> _Html:
    attrs = f' class="{escape(cls)}"' if cls else ""
    return _Html(f"<{tag}{attrs}>{_text(content)}</{tag}>")


def _join(parts) -> _Html:
    return _Html("".join(_text(p) for p in parts))


def _items(values, tag: str = "ul") -> _Html:
    return _el(tag, _join(_el("li", v) for v in values)) if values else _Html("")


def _table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> _Html:
    header = _el("tr", _join(_el("th", h) for h in head))
    return _el("table", _join([header, *(_el("tr", _join(_el("td", c) for c in row)) for row in rows)]))


def stylesheet() -> str:
    """The documents' CSS (inlined in files, so a handout is one self-contained file)."""
    return (resources.files("compensa.visualize") / "templates" / "documents.css").read_text(encoding="utf-8")


def with_linked_stylesheet(html: str, href: str) -> str:
    """``html`` with its inline stylesheet replaced by a link to ``href``: a page served under a CSP
    without inline styles (``style-src 'self'``) keeps its look."""
    return html.replace(f"<style>{stylesheet()}</style>", f'<link rel="stylesheet" href="{_text(href)}">', 1)


def _page(template: str, *, title: str, heading: str, meta: str, body: _Html, report) -> str:
    css = stylesheet()
    page = (resources.files("compensa.visualize") / "templates" / template).read_text(encoding="utf-8")
    return Template(page).substitute(title=_text(title), css=css, heading=_text(heading), meta=_text(meta), body=body,
                                     disclaimer=_text(report.data.disclaimer), kb_version=_text(report.data.kb_version))


def _meta(report) -> str:
    when = report.data.case.get("date") or _dt.date.today().isoformat()
    name = report.case.name
    return f"{name} · {when}" if name else str(when)


# --- lay words ---------------------------------------------------------------------------------

#: A muscle's KB region in everyday words ("your hip muscles").
_REGION_WORDS = {"pelvis": "buttock", "lower_back": "lower-back", "upper_back": "upper-back", "lower_leg": "lower-leg",
                 "abdomen": "tummy", "elbow": "forearm", "wrist_hand": "forearm", "chest": "chest"}


def _plain(advice: str) -> str:
    """Advice without the report's field references ("(triage.not_screened)"), which mean nothing to a patient."""
    return re.sub(r"\s*\((?:triage|targets|warnings)[.\w\[\]]*\)", "", advice)


def _side_words(side: object) -> str:
    return f" ({side} side)" if side in ("left", "right") else ""


def _site_words(kb, site_id: str, side: object) -> str:
    site = kb.pain_sites.get(site_id)
    label = site.label if site is not None else kb.label(site_id)
    return f"the {label[0].lower()}{label[1:]}{_side_words(side)}"


def lay_reason(report, target) -> str:
    """Why this exercise, in plain words, from the target's own chain (muscle -> root -> ... -> pain site)."""
    kb = report.kb
    region = _REGION_WORDS.get(target.region, target.region.replace("_", " "))
    site = _site_words(kb, target.chain[-1], target.side) if target.chain else "the painful area"
    if target.action == "strengthen":
        first = f"Your {region} muscles ({target.label.lower()}) are doing too little, so {site} takes the load."
    else:
        first = f"Your {region} muscles ({target.label.lower()}) are tight and pull on the chain, so {site} takes the strain."
    between = [kb.label(node) for node in target.chain[2:-1]]
    pattern = f" This is part of the pattern \u201c{kb.label(target.root)}\u201d"
    pattern += f", linked to your pain through {', '.join(between).lower()}." if between else "."
    away = "" if target.painful else " It does not hurt there: that is where the chain starts."
    return first + pattern + away


# --- the handout -------------------------------------------------------------------------------

def _exercise_targets(report) -> list:
    """Targets with an exercise to give, one per exercise and side (the first, strongest, kept)."""
    seen, chosen = set(), []
    for target in report.targets:
        if target.exercise is None or target.withheld is not None:
            continue
        key = (target.exercise.id, target.side)
        if key not in seen:
            seen.add(key)
            chosen.append(target)
    return chosen


def _dose_rows(intervention, exercise) -> _Html:
    rows = [("How much", exercise.dose or "as your clinician shows you")]
    if intervention is not None and intervention.progression:
        rows.append(("How to progress", intervention.progression))
    return _el("dl", _join(_join([_el("dt", k), _el("dd", v)]) for k, v in rows), "dose")


def _exercise_card(report, target, number: int) -> _Html:
    exercise = target.exercise
    intervention = report.kb.interventions.get(exercise.id)
    verb = "Stretch" if target.action == "stretch" else "Strengthen"
    parts = [_el("div", f"{verb} · {target.label}{_side_words(target.side)}", "kind"),
             _el("h3", f"{number}. {exercise.label}"), _el("p", exercise.how), _dose_rows(intervention, exercise),
             _el("p", _join([_el("strong", "Why this exercise: "), lay_reason(report, target)]))]
    if target.caution:
        parts.append(_el("p", _join([_el("strong", "Take care: "), target.caution])))
    if target.tentative:
        parts.append(_el("p", "Your clinician should check this muscle before you load it.", "small"))
    return _el("section", _join(parts), f"box exercise {target.action}")


def _left_out(report) -> _Html:
    rows = [f"{t.withheld.label}: left out because of {', '.join(report.kb.label(c) for c in t.withheld.because)}."
            for t in report.targets if t.withheld is not None]
    return _join([_el("h2", "Left out on purpose"), _items(rows)]) if rows else _Html("")


def _flag_lines(report, levels: tuple[str, ...]) -> list[_Html]:
    kb, ids = report.kb, list[str]()
    for item in report.data.case.get("pain", []):
        site = kb.pain_sites.get(item.get("site", ""))
        ids.extend(site.screen if site is not None else ())
    flags = [kb.red_flags[i] for i in dict.fromkeys(ids) if i in kb.red_flags and kb.red_flags[i].level in levels]
    return [_join([_el("strong", f.label), " \u2014 ", f.advice]) for f in flags]


def _safety_net(report) -> _Html:
    """When to stop and seek care: the triage advice and the pain sites' red flags with the KB's advice."""
    parts = [_el("h2", "When to stop and seek care"), _el("p", _plain(report.triage.advice))]
    lines = _flag_lines(report, ("emergency", "urgent"))
    if lines:
        parts += [_el("p", "Stop the exercises and get medical help if any of these happen:"), _items(lines)]
    if report.data.review_advice:
        parts.append(_el("p", report.data.review_advice, "small"))
    return _el("section", _join(parts), "box notice")


def _withheld_body(report) -> _Html:
    """The handout when a red flag stops the plan: no exercises, the care advice instead."""
    kb, triage = report.kb, report.triage
    named = [kb.label(f) for f in triage.red_flags] + [kb.label(c) for c in triage.clusters] + list(triage.unmatched)
    parts = [_el("h2", "No exercises for now: please get checked first"),
             _el("p", "Something you told us needs a doctor or clinician to look at it before any exercise plan. "
                      "This is a precaution, not a diagnosis."),
             _el("p", _join([_el("strong", "What to do: "), _plain(triage.advice)]))]
    if named:
        parts += [_el("p", "What raised the concern:"), _items(named)]
    return _join([_el("section", _join(parts), "box alert"), _figure_block(report)])


def _figure_block(report) -> _Html:
    marks = body_marks(report)
    if not marks:
        return _Html("")
    svg = _Html(body_svg(marks, "Body picture: where it hurts, where to stretch and where to strengthen",
                         body_chains(report)))
    return _el("div", _join([_el("h2", "Your body picture"), svg]), "figure")


def _sources(report, targets) -> _Html:
    kb, ids = report.kb, list[str]()
    for target in targets:
        item = kb.interventions.get(target.exercise.id)
        if item is not None:
            ids += [item.source, item.dose_source, item.progression_source]
    cited = [kb.sources[i].citation for i in dict.fromkeys(ids) if i in kb.sources]
    return _el("div", _join([_el("h3", "Where the exercises and doses come from"), _items(cited, "ol")]), "sources") \
        if cited else _Html("")


def _plan_body(report) -> _Html:
    targets = _exercise_targets(report)
    intro = ("These exercises target the muscles behind your pain, which are often not where it hurts. "
             "Do them as shown below; stop and ask if anything feels wrong.")
    cards = [_exercise_card(report, t, i) for i, t in enumerate(targets, 1)]
    if not cards:
        cards = [_el("p", "No exercise could be chosen from the information given: your clinician will "
                          "assess further before suggesting a programme.", "box notice")]
    return _join([_el("p", intro), _figure_block(report), _el("h2", "Your exercises"), *cards, _left_out(report),
                  _safety_net(report), _sources(report, targets)])


def handout_html(report) -> str:
    """The patient's home programme as a self-contained HTML page (see the module docstring)."""
    body = _withheld_body(report) if report.plan_withheld else _plan_body(report)
    return _page("handout.html", title="Your home exercise programme", heading="Your home exercise programme",
                 meta=_meta(report), body=body, report=report)


# --- the clinician report ----------------------------------------------------------------------

def _side(item: dict | object) -> str:
    side = item.get("side") if isinstance(item, dict) else getattr(item, "side", None)
    return f" ({side})" if side else ""


def _findings_rows(report) -> list[list[object]]:
    kb, case, rows = report.kb, report.data.case, list[list[object]]()
    for item in case.get("pain", []):
        intensity = f", {item['intensity']}/10" if item.get("intensity") is not None else ""
        rows.append(["pain", kb.label(item["site"]) + _side(item) + intensity])
    for item in case.get("findings", []):
        rows.append(["finding", kb.label(item["id"]) + _side(item) + ("" if item.get("present", True) else ": absent")])
    for item in case.get("tests", []):
        rows.append(["test", f"{kb.label(item['id'])}{_side(item)}: {item['result']}"])
    for item in case.get("red_flags", []):
        answer = {True: "yes", False: "no"}.get(item["present"], str(item["present"]))
        rows.append(["red flag", f"{kb.label(item['id'])}: {answer}"])
    for key in ("history", "diagnoses"):
        rows += [[key, kb.label(i["id"] if isinstance(i, dict) else i)] for i in case.get(key, [])]
    rows += [[key, case[key]] for key in ("age", "sex", "onset", "duration_weeks") if case.get(key) is not None]
    return rows


def _triage_section(report) -> _Html:
    t, kb = report.triage, report.kb
    rows = [["level", t.level], ["screened", t.screened], ["red flags", ", ".join(kb.label(f) for f in t.red_flags) or "none"]]
    rows += [[name, ", ".join(kb.label(i) for i in ids)] for name, ids in
             (("clusters", t.clusters), ("review signs", t.review), ("not asked", t.not_screened),
              ("medical review", t.medical_review)) if ids]
    rows += [["unmatched", ", ".join(t.unmatched)]] if t.unmatched else []
    cls = "box alert" if report.plan_withheld else "box"
    return _join([_el("h2", "Triage"), _el("div", _join([_el("p", t.advice), _table(["", ""], rows)]), cls)])


def _evidence(items) -> str:
    return "; ".join(f"{e.label}{_side(e)} ({e.weight:+.2f})" for e in items) or "\u2014"


def _roots_section(report) -> _Html:
    kb = report.kb
    rows = [[f"{r.label}{_side(r)}", f"{r.confidence:.2f} {r.status}", ", ".join(kb.label(m) for m in r.tight),
             ", ".join(kb.label(m) for m in r.weak), _evidence(r.supporting), _evidence(r.conflicting)]
            for r in report.root_causes]
    table = _table(["root imbalance", "confidence", "tight", "weak", "evidence for", "evidence against"], rows)
    return _join([_el("h2", "Likely root imbalances"), table if rows else _el("p", "None reached.")])


def _ranked_section(title: str, items) -> _Html:
    rows = [[f"{i.label}{_side(i)}", f"{i.confidence:.2f}",
             ", ".join(f"{k}: {v}" for k, v in (i.codes or {}).items()) or "\u2014"] for i in items]
    return _join([_el("h2", title), _table(["", "confidence", "codes"], rows) if rows else _el("p", "None reached.")])


def _target_row(report, t) -> list[object]:
    exercise = f"{t.exercise.label} \u2014 {t.exercise.dose}" if t.exercise else "\u2014"
    notes = [n for n in (t.caution, "tentative: confirm before loading" if t.tentative else "") if n]
    return [f"{t.action} {t.label}{_side(t)}", "yes" if t.painful else "no", t.because, exercise,
            "; ".join(notes) or "\u2014"]


def _targets_section(report) -> _Html:
    if report.plan_withheld:
        return _join([_el("h2", "Targets"), _el("p", "Withheld: a red flag is present or unsure.", "box alert")])
    rows = [_target_row(report, t) for t in report.targets]
    table = _table(["target", "painful", "because", "exercise and dose", "notes"], rows)
    return _join([_el("h2", "Targets"), table if rows else _el("p", "None.")])


def _next_section(report) -> _Html:
    rows = [[f"{a.label}{_side(a)}", a.why, a.how] for a in report.next_assessments]
    return _join([_el("h2", "Next assessments"), _table(["assessment", "why", "how"], rows) if rows
                  else _el("p", "None suggested.")])


def _graph_svg(report) -> tuple[bytes | None, str]:
    """The focused explanation graph as SVG bytes, or None and a note when Graphviz's dot is missing."""
    from compensa.visualize.dot import dot_available, to_dot
    from compensa.visualize.graph import explanation_graph, focus

    if not dot_available():
        return None, "The explanation graph is omitted: Graphviz's dot is not installed (Debian: apt-get install graphviz)."
    import graphviz

    source = to_dot(focus(explanation_graph(report), report), "compensa explanation", report.kb.regions)
    return graphviz.Source(source).pipe(format="svg"), ""


def _graph_section(report, graph: bool) -> _Html:
    if not graph:
        return _Html("")
    svg, note = _graph_svg(report)
    if svg is None:
        return _join([_el("h2", "Explanation graph"), _el("p", note, "small")])
    uri = "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
    img = _Html(f'<img alt="Explanation graph" src="{uri}">')
    return _join([_el("h2", "Explanation graph"), _el("div", img, "graph")])


def _psychosocial_section(report) -> _Html:
    psych = report.data.psychosocial
    if psych is None:
        return _Html("")
    rows = [["risk", f"{psych.risk} ({psych.tool}: {psych.score}, psychosocial {psych.subscore})"],
            ["flags", ", ".join(report.kb.label(f) for f in psych.flags) or "none"], ["advice", psych.advice]]
    return _join([_el("h2", "Psychosocial (yellow flags)"), _table(["", ""], rows)])


def _warnings_section(report) -> _Html:
    notes = [w.message for w in report.warnings] + [f"not understood: {u.term} ({u.where})" for u in report.data.unrecognised]
    return _join([_el("h2", "Caveats"), _items(notes)]) if notes else _Html("")


def clinician_report_html(report, graph: bool = True) -> str:
    """The clinician's record as a self-contained HTML page: findings, triage, roots with the evidence for
    and against, conditions, targets, next assessments, caveats, the explanation graph and the KB version."""
    body = _join([_el("h2", "Case findings"), _table(["kind", "finding"], _findings_rows(report)),
                  _triage_section(report), _roots_section(report), _ranked_section("Dysfunctions", report.dysfunctions),
                  _ranked_section("Conditions", report.conditions), _targets_section(report), _next_section(report),
                  _psychosocial_section(report), _warnings_section(report), _graph_section(report, graph)])
    return _page("clinician-report.html", title="compensa clinician report", heading="Clinician report",
                 meta=_meta(report), body=body, report=report)


# --- PDF ---------------------------------------------------------------------------------------

def _weasyprint():
    try:
        weasyprint = importlib.import_module("weasyprint")
    except (ImportError, OSError) as exc:  # OSError: pango or its fonts are missing
        raise PDFUnavailable(Problem(
            f"PDF output needs WeasyPrint and its system libraries ({type(exc).__name__}: {exc}); install "
            "them with pip install 'compensa[pdf]' (Debian also: apt-get install libpango-1.0-0 libpangoft2-1.0-0 "
            "libharfbuzz-subset0 fonts-dejavu-core), or write .html instead")) from None
    return weasyprint


def to_pdf(html: str) -> bytes:
    """The PDF of a document's HTML, made by WeasyPrint (imported only here; :class:`PDFUnavailable` if missing)."""
    return _weasyprint().HTML(string=html).write_pdf()
