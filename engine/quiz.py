"""A quiz over the case library: the student asks for assessments, names the root and the targets.

:func:`quiz_view` is stateless: each call picks (or re-opens) a library case, shows the presenting
complaint (pain sites, age, sex, onset, duration, history, diagnoses), reveals exactly the
assessments the student asked for (``asked``: findings, tests, red-flag and yellow-flag questions;
"not done" when the case lacks one) and, with an ``answer``, scores it::

    {case_id, region, presenting, revealed, available, choices, regions[, score, solution, explanation]}

Scoring: the root is right when it is one of the case's ``expect.roots_any`` (a case that expects
no root is answered ``none``), half right when it is in compensa's own top 3; targets
(muscle + action) are scored by precision and recall against ``expect.targets``, and a pick among
``expect.not_targets`` is flagged as harmful and costs half a point. ``points`` out of ``max_points``
(2). The explanation of the differences comes from an ``explain(report, score, vocabulary)`` hook
(``compensa.visualize.quiz_explain`` words it with the same WHY / HOW / WHY NOT as ``explain``), so
the engine never imports the layer above it. Progress over several cases is the caller's.
"""

from __future__ import annotations

import difflib
import functools
import random
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from compensa.engine.case import Case, onset_history
from compensa.engine.evaluate import BUNDLED_CASES, LibraryCase, read_library
from compensa.errors import CaseError, Problem, UsageError, closest
from compensa.kb.model import in_sentence

__all__ = ["ACTIONS", "ASKABLE_KINDS", "MAX_POINTS", "Explainer", "library", "parse_answer", "pick_case",
           "quiz_view", "score_answer"]

#: Case sections kept hidden until asked for, as evidence kinds (vocabulary kinds to resolve a term).
ASKABLE_KINDS = ("red_flag", "finding", "test", "yellow_flag")
ACTIONS = ("stretch", "strengthen")
#: One point for the root, one for the targets (their F1).
MAX_POINTS = 2.0
#: Harmful target picks cost this much each (the target points never go below zero).
HARM_PENALTY = 0.5
#: Words a student may answer for "no root imbalance" (a red-flag case, or too little evidence).
NO_ROOT = ("", "none", "no_root", "no root", "refer")
#: More asked ids than this is not a quiz (bounded work per request).
MAX_ASKED = 500

#: ``explain(report, score, vocabulary) -> {items: [{kind, about, text}], text}``.
Explainer = Callable[[Any, dict, Any], dict]


@functools.lru_cache(maxsize=4)
def _library(folder: str) -> tuple[LibraryCase, ...]:
    cases, _ = read_library(folder)
    return tuple(sorted(cases, key=lambda c: c.id))


def library(folder: str | Path | None = None) -> tuple[LibraryCase, ...]:
    """The library's cases sorted by id (the bundled ``kb/cases`` by default); read once per folder."""
    return _library(str(folder or BUNDLED_CASES))


def pick_case(cases: Iterable[LibraryCase], case_id: str | None = None, region: str | None = None,
              seed: int | None = None) -> LibraryCase:
    """The case named ``case_id``, else one drawn from ``region`` (all regions by default) with ``seed``.

    Raises :class:`~compensa.errors.UsageError` naming the closest ids for an unknown case or region."""
    cases = list(cases)
    if case_id:
        found = next((c for c in cases if c.id == case_id), None)
        if found is None:
            ids = [c.id for c in cases]
            near = closest(case_id, ids) or tuple(difflib.get_close_matches(case_id, ids, 3, 0.3))
            raise UsageError(Problem(f"no library case {case_id!r}", "case_id", case_id, near))
        return found
    if region:
        regions = sorted({c.region for c in cases})
        cases = [c for c in cases if c.region == region]
        if not cases:
            raise UsageError(Problem(f"no library case in region {region!r}", "region", region,
                                     closest(region, regions) or tuple(regions[:5])))
    return random.Random(seed).choice(cases)


# -- the presenting complaint and what can be asked -------------------------------------------------
def _side(side: str) -> str:
    return f" ({side})" if side else ""


def _presenting(kb, case: Case) -> dict:
    """What the person tells: pain sites, age, sex, onset, duration, history and diagnoses."""
    from_onset = onset_history(case.context.onset)
    pain = [{"id": e.id, "label": kb.label(e.id), "side": e.side or None} for e in case.of_kind("pain")]
    history = [{"id": e.id, "label": kb.label(e.id)} for e in case.of_kind("history")
               if e.id != from_onset and e.value == "present"]
    diagnoses = [{"id": e.id, "label": kb.label(e.id)} for e in case.of_kind("diagnosis")]
    out = {"pain": pain, "history": history, "diagnoses": diagnoses, **case.context.to_dict()}
    out.pop("date", None)
    out["text"] = _presenting_text(out)
    return out


def _presenting_text(p: dict) -> str:
    """The presenting complaint as one or two sentences."""
    who = " ".join(str(x) for x in (f"{p['age']}-year-old" if p.get("age") is not None else "", p.get("sex") or "")
                   if x) or "A person"
    where = ", ".join(in_sentence(x["label"]) + _side(x["side"] or "") for x in p["pain"]) or "no stated site"
    text = f"{who[0].upper()}{who[1:]} with pain at: {where}."
    story = [f"{p['onset']} onset" if p.get("onset") else "",
             f"for {p['duration_weeks']} weeks" if p.get("duration_weeks") is not None else ""]
    if any(story):
        text += " " + " ".join(s for s in story if s).capitalize() + "."
    if p["history"]:
        text += " History: " + ", ".join(in_sentence(h["label"]) for h in p["history"]) + "."
    if p["diagnoses"]:
        text += " Diagnosed: " + ", ".join(in_sentence(d["label"]) for d in p["diagnoses"]) + "."
    return text


def _kind_of(kb, id_: str) -> str:
    if id_ in kb.assessments:
        return kb.assessments[id_].kind
    return "red_flag" if id_ in kb.red_flags else "yellow_flag"


def _available(kb, case: Case) -> list[str]:
    """Everything the student may ask: the pain sites' red-flag screening first, then the assessments
    of the painful regions, then every other assessment and the yellow-flag questions."""
    sites = [kb.pain_sites[e.id] for e in case.of_kind("pain") if e.id in kb.pain_sites]
    regions = {s.region for s in sites}
    flags = list(dict.fromkeys([f for s in sites for f in s.screen if f in kb.red_flags]
                               + [e.id for e in case.of_kind("red_flag")]))
    near = sorted(a for a, rec in kb.assessments.items() if rec.region in regions)
    rest = sorted(set(kb.assessments) - set(near))
    others = sorted(set(kb.red_flags) - set(flags))
    return flags + near + rest + sorted(kb.yellow_flags) + others


def _choices(kb, available: list[str], case: Case) -> list[dict]:
    """``available`` with label, kind and whether it belongs to the painful regions (for a menu)."""
    regions = {kb.pain_sites[e.id].region for e in case.of_kind("pain") if e.id in kb.pain_sites}
    screen = {f for e in case.of_kind("pain") if e.id in kb.pain_sites for f in kb.pain_sites[e.id].screen}
    out = []
    for id_ in available:
        record = kb.assessments.get(id_)
        related = (record.region in regions) if record else id_ in screen
        out.append({"id": id_, "label": kb.label(id_), "kind": _kind_of(kb, id_), "related": related})
    return out


def _resolve_asked(vocabulary, asked: Iterable[object]) -> list[str]:
    """Ids for the asked terms (ids, labels or aliases); CaseError naming each unknown one."""
    ids: list[str] = []
    problems = []
    for i, term in enumerate(asked):
        found = next((f for kind in ASKABLE_KINDS if (f := vocabulary.resolve(kind, term))), None)
        if found is None:
            hints = tuple(dict.fromkeys(s for kind in ("test", "finding", "red_flag")
                                        for s in vocabulary.suggest(kind, term, 2)))
            problems.append(Problem("unknown assessment (a finding, test or screening question)", f"asked[{i}]",
                                    term, hints[:4]))
        elif found not in ids:
            ids.append(found)
    if problems:
        raise CaseError(problems)
    return ids


def _result_words(kind: str, value: str) -> str:
    if kind in ("red_flag", "yellow_flag"):
        return {"present": "yes", "absent": "no"}.get(value, value)
    return value


def _reveal(kb, case: Case, id_: str) -> dict:
    """One asked item of the case: its results (each side), or "not done" when the case lacks it."""
    label = kb.label(id_)
    items = [e for e in case.evidence if e.id == id_ and e.kind in ASKABLE_KINDS]
    out: dict = {"id": id_, "label": label, "kind": _kind_of(kb, id_), "done": bool(items)}
    if not items:
        return {**out, "results": [], "text": f"{label}: not done"}
    results = [{"value": e.value, "side": e.side or None} for e in items]
    words = "; ".join(_result_words(e.kind, e.value) + _side(e.side) for e in items)
    return {**out, "results": results, "text": f"{label}: {words}"}


# -- the answer and its score -----------------------------------------------------------------------
def _parse_root(vocabulary, root: object, problems: list) -> str | None:
    if root is None or (isinstance(root, str) and root.strip().lower() in NO_ROOT):
        return None
    found = vocabulary.resolve("root", root)
    if found is None:
        problems.append(Problem("unknown root imbalance (answer 'none' for no root)", "answer.root", root,
                                vocabulary.suggest("root", root)))
    return found


def _parse_target(vocabulary, i: int, item: object, problems: list) -> dict | None:
    where = f"answer.targets[{i}]"
    if not isinstance(item, Mapping) or set(item) - {"muscle", "action", "side"}:
        problems.append(Problem("a target is {muscle, action: stretch | strengthen, side?}", where, item))
        return None
    muscle = vocabulary.resolve("muscle", item.get("muscle"))
    if muscle is None:
        problems.append(Problem("unknown muscle", f"{where}.muscle", item.get("muscle"),
                                vocabulary.suggest("muscle", item.get("muscle"))))
    action = item.get("action")
    if action not in ACTIONS:
        problems.append(Problem("action must be stretch or strengthen", f"{where}.action", action, ACTIONS))
    side = item.get("side")
    if side not in (None, "left", "right", "both"):
        problems.append(Problem("side must be left, right or both", f"{where}.side", side))
    if muscle is None or action not in ACTIONS:
        return None
    return {"muscle": muscle, "action": action, "side": side}


def parse_answer(vocabulary, answer: object) -> dict:
    """``{root: id | None, targets: [{muscle, action, side}], triage: level | None}`` from a raw answer
    (readable names accepted); CaseError naming every bad part."""
    if not isinstance(answer, Mapping) or set(answer) - {"root", "targets", "triage"}:
        raise CaseError(Problem("the answer is {root, targets: [{muscle, action}], triage?}", "answer", answer))
    problems: list[Problem] = []
    root = _parse_root(vocabulary, answer.get("root"), problems)
    raw = answer.get("targets", [])
    if not isinstance(raw, list):
        problems.append(Problem("targets must be a list of {muscle, action}", "answer.targets", raw))
        raw = []
    targets = [t for i, item in enumerate(raw) if (t := _parse_target(vocabulary, i, item, problems))]
    triage = answer.get("triage")
    levels = ("emergency", "urgent", "routine", "self_care")
    if triage is not None and triage not in levels:
        problems.append(Problem("triage must be one of " + ", ".join(levels), "answer.triage", triage, levels))
    if problems:
        raise CaseError(problems)
    return {"root": root, "targets": targets, "triage": triage}


def _root_score(kb, expect, report, root: str | None) -> dict:
    top3 = [r.id for r in report.root_causes[:3]]
    correct = root in expect.roots_any if expect.roots_any else root is None
    partial = not correct and root is not None and root in top3
    return {"answer": root, "label": kb.label(root) if root else "none", "correct": correct, "partial": partial,
            "points": 1.0 if correct else 0.5 if partial else 0.0, "expected": list(expect.roots_any),
            "compensa_top3": top3}


def _ratio(part: int, whole: int, empty: float) -> float:
    return round(part / whole, 3) if whole else empty


def _target_words(kb, pair: tuple[str, str]) -> dict:
    return {"muscle": pair[0], "action": pair[1], "label": kb.label(pair[0])}


def _target_score(kb, expect, targets: list[dict]) -> dict:
    """Precision and recall of the named targets against the expected ones; harmful picks flagged."""
    expected = {(t.muscle, t.action) for t in expect.targets}
    given = {(t["muscle"], t["action"]) for t in targets}
    harmful = given & {(t.muscle, t.action) for t in expect.not_targets}
    hits = given & expected
    precision = _ratio(len(hits), len(given), 1.0 if not expected else 0.0)
    recall = _ratio(len(hits), len(expected), 1.0 if not given else 0.0)
    f1 = round(2 * precision * recall / (precision + recall), 3) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "correct": [_target_words(kb, p) for p in sorted(hits)],
            "missed": [_target_words(kb, p) for p in sorted(expected - given)],
            "extra": [_target_words(kb, p) for p in sorted(given - expected - harmful)],
            "harmful": [_target_words(kb, p) for p in sorted(harmful)],
            "points": round(max(0.0, f1 - HARM_PENALTY * len(harmful)), 3)}


def score_answer(kb, lib_case: LibraryCase, report, answer: dict) -> dict:
    """The score of a parsed answer (:func:`parse_answer`) for a library case and compensa's report of it."""
    expect = lib_case.expect
    root = _root_score(kb, expect, report, answer["root"])
    targets = _target_score(kb, expect, answer["targets"])
    points = round(root["points"] + targets["points"], 3)
    out = {"root": root, "targets": targets, "points": points, "max_points": MAX_POINTS,
           "full_marks": points >= MAX_POINTS}
    if answer.get("triage"):
        out["triage"] = {"answer": answer["triage"], "expected": list(expect.triage),
                         "correct": answer["triage"] in expect.triage}
    return out


def _solution(lib_case: LibraryCase, report, case: Case) -> dict:
    """What the library expects and what compensa says, shown once the case is answered."""
    expect = lib_case.expect
    return {"title": lib_case.title, "summary": lib_case.summary.strip(), "sources": list(lib_case.sources),
            "expected": expect.model_dump(mode="json", exclude_none=True), "case": case.to_dict(),
            "compensa": {"triage": report.triage.level,
                         "roots": [{"id": r.id, "label": r.label, "confidence": r.confidence}
                                   for r in report.root_causes[:3]],
                         "targets": [{"muscle": t.muscle, "action": t.action, "side": t.side}
                                     for t in report.targets]}}


def quiz_view(consultant, case_id: str | None = None, region: str | None = None, asked: Iterable[object] = (),
              answer: object = None, seed: int | None = None, *, explain: Explainer | None = None,
              folder: str | Path | None = None) -> dict:
    """One step of a quiz (stateless): the case, what was asked, and with ``answer`` its score.

    ``case_id`` re-opens a case (pass back the ``case_id`` of the first view); without it a case is
    drawn from ``region`` with ``seed``. ``asked`` names assessments by id or readable name.
    ``explain`` words the differences (see :data:`Explainer`). Raises CaseError / UsageError for an
    unknown case, region, assessment, root or muscle, naming the closest ids."""
    asked = list(asked)
    if len(asked) > MAX_ASKED:
        raise CaseError(Problem(f"at most {MAX_ASKED} assessments may be asked", "asked", len(asked)))
    cases = library(folder)
    lib_case = pick_case(cases, case_id, region, seed)
    kb = consultant.kb
    case = consultant.parse(lib_case.case, strict=True)
    available = _available(kb, case)
    view: dict[str, Any] = {"case_id": lib_case.id, "region": lib_case.region,
                            "presenting": _presenting(kb, case),
                            "revealed": [_reveal(kb, case, i) for i in _resolve_asked(consultant.vocabulary, asked)],
                            "available": available, "choices": _choices(kb, available, case),
                            "regions": sorted({c.region for c in cases})}
    if answer is None:
        return view
    parsed = parse_answer(consultant.vocabulary, answer)
    report = consultant.consult(case)
    score = score_answer(kb, lib_case, report, parsed)
    view["score"] = score
    view["solution"] = _solution(lib_case, report, case)
    if explain is not None:
        view["explanation"] = explain(report, score, consultant.vocabulary)
    return view
