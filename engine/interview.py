"""The interview: from a partial case, the next question worth asking (DESIGN.md, ``POST /v1/interview``).

Red flags come first: while a red flag of the pain sites' screening lists (the report's
``triage.ask``, worst first) is unanswered and not skipped, it is the next question. After that,
each candidate question (an assessment not yet done, on the painful side when it is sided, or a
history item not yet given) is scored by running the real consultation once per possible answer
(positive/negative, present/absent) and measuring how far the top roots' certainties move:

    score = mean over the two answers of  sum over the top roots (before and after) |cf_after - cf_before|

The two answers are weighted equally (no prior on how often a test is positive: the KB holds none).
Only a shortlist is consulted: the candidates that bear on the leading hypotheses (the
:func:`~compensa.engine.plan.next_assessments` index), pre-ranked by their static reach, so a question
costs a few dozen consultations however large the KB is.

The interview stops (``should_stop``) when an alarm was raised (seek care), when the top root is clear
(confirmed by a test, or far enough ahead of the second) or when no candidate moves anything.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from compensa.engine import plan
from compensa.engine.case import Case, EvidenceItem
from compensa.kb.model import KnowledgeBase, in_sentence

__all__ = ["CLEAR_MARGIN", "CLEAR_MIN", "MIN_CHANGE", "SHORTLIST", "TOP_ROOTS", "add_answer", "next_question",
           "ranking"]

#: How many of the leading roots the score watches.
TOP_ROOTS = 5
#: How many candidates (after the cheap static pre-ranking) are consulted for real.
SHORTLIST = 12
#: A candidate whose expected change is below this moves nothing measurable.
MIN_CHANGE = 0.02
#: The top root is clear at this certainty when a test confirms it ...
CLEAR_MIN = 0.6
#: ... or when it leads the second root by at least this much (and reaches ``CLEAR_MIN``).
CLEAR_MARGIN = 0.25

_RESULTS = {"test": ("positive", "negative"), "finding": ("present", "absent"), "history": ("present", "absent")}


@dataclasses.dataclass(frozen=True, slots=True)
class _Candidate:
    kind: str   # test | finding | history
    id: str
    side: str   # "" when unsided

    @property
    def answers(self) -> tuple[str, str]:
        return _RESULTS[self.kind]


def ranking(report) -> list[dict]:
    """The ranked roots of a report as ``[{id, label, side, confidence}]``."""
    return [{"id": r.id, "label": r.label, "side": r.side, "confidence": r.confidence} for r in report.root_causes]


def add_answer(case: Case, kind: str, id_: str, side: str, value: str) -> Case:
    """``case`` with one more piece of evidence (``kind``, ``id_``, ``side``, ``value``), kept in canonical order."""
    item = EvidenceItem(kind, id_, side or "", value)
    kept = tuple(e for e in case.evidence if (e.kind, e.id, e.side) != (item.kind, item.id, item.side))
    return dataclasses.replace(case, evidence=tuple(sorted(kept + (item,))))


def _skips(skipped: Iterable[str]) -> tuple[set[str], set[tuple[str, str]]]:
    """Skipped ids (every side) and ``id:side`` pairs (that side only)."""
    ids: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for entry in skipped:
        id_, _, side = str(entry).partition(":")
        if side:
            pairs.add((id_, side))
        else:
            ids.add(id_)
    return ids, pairs


def _is_skipped(skips: tuple[set[str], set[tuple[str, str]]], id_: str, side: str) -> bool:
    return id_ in skips[0] or (id_, side) in skips[1]


def _confidences(report) -> dict[tuple[str, str], float]:
    """Every root the run believes at all (certainty > 0, also below the report's cut-off), by (id, side)."""
    return {(k[1], k[2]): cf for k, cf in plan.rank(report.reasoning, "root", 1e-9)}


def _change(before: dict, after: dict) -> float:
    """How far the top roots moved: summed absolute change over the top roots before and after."""
    top_before = sorted(before, key=lambda k: (-before[k], k))[:TOP_ROOTS]
    top_after = sorted(after, key=lambda k: (-after[k], k))[:TOP_ROOTS]
    keys = set(top_before) | set(top_after)
    return sum(abs(after.get(k, 0.0) - before.get(k, 0.0)) for k in keys)


def _alarm_stop(kb: KnowledgeBase, report) -> str:
    """Why the interview stops at once (an alarm: seek care), or ``""``."""
    triage = report.triage
    if report.plan_withheld:
        named = ", ".join(in_sentence(kb.label(f)) if f in kb.red_flags else f for f in triage.red_flags)
        return (f"Triage is {triage.level}{f' ({named})' if named else ''}: stop the assessment and refer for "
                "medical care before any exercise.")
    return ""


def _red_flag_question(kb: KnowledgeBase, report, skips) -> dict | None:
    """The worst unanswered, unskipped red flag of the pain sites' screening list, as a question."""
    for ask in report.triage.ask:
        ask = ask if isinstance(ask, dict) else ask.model_dump()
        if _is_skipped(skips, ask["id"], ""):
            continue
        flag = kb.red_flags[ask["id"]]
        return {"id": flag.id, "kind": "red_flag", "text": flag.question, "how_to": "Ask the person: yes, no or unsure.",
                "side": None, "label": flag.label, "level": flag.level, "answers": ["present", "absent", "unsure"]}
    return None


def _pain_sides(case: Case) -> list[str]:
    sides = sorted({e.side for e in case.of_kind("pain")})
    return sides or [""]


def _hypotheses(report) -> dict[str, float]:
    """The leading roots and conditions (believed at all) with their certainty, the best first."""
    roots = plan.rank(report.reasoning, "root", 1e-9)[:TOP_ROOTS]
    conditions = plan.rank(report.reasoning, "condition", 1e-9)[:3]
    out: dict[str, float] = {}
    for (_, node, _), cf in roots + conditions:
        out[node] = max(out.get(node, 0.0), cf)
    return out


def _history_reach(kb: KnowledgeBase, item) -> dict[str, float]:
    """For one history item: each node's |effect| x impact (as plan's assessment reach)."""
    reach: dict[str, float] = {}
    for effect in item.effects:
        for node, impact in plan._impacts(kb, effect.target).items():
            reach[node] = reach.get(node, 0.0) + abs(effect.strength) * impact
    return reach


def _static_value(reach: dict[str, float], weights: dict[str, float]) -> float:
    return sum(reach.get(node, 0.0) * w for node, w in weights.items())


def _assessment_candidates(kb: KnowledgeBase, case: Case, nodes: list[str], skips) -> Iterable[_Candidate]:
    done = {(e.id, e.side) for e in case.evidence if e.kind in ("finding", "test")}
    done_ids = {i for i, _ in done}
    reached_by = plan._reached_by(kb)
    if nodes:
        ids: Iterable[str] = dict.fromkeys(a for node in nodes for a in reached_by.get(node, ()))
    else:  # nothing to go on yet: look first (the posture screen), then test what the findings point to
        ids = [a.id for a in kb.assessments.values() if a.kind == "finding"]
    for id_ in ids:
        assessment = kb.assessments[id_]
        for side in (_pain_sides(case) if assessment.sided else [""]):
            taken = (id_, side) in done or (id_, "") in done or (not side and id_ in done_ids)
            if not taken and not _is_skipped(skips, id_, side):
                yield _Candidate(assessment.kind, id_, side)


def _history_candidates(kb: KnowledgeBase, case: Case, skips) -> Iterable[_Candidate]:
    given = {e.id for e in case.of_kind("history")}
    for id_ in kb.history:
        if id_ not in given and not _is_skipped(skips, id_, ""):
            yield _Candidate("history", id_, "")


def _shortlist(kb: KnowledgeBase, case: Case, report, skips) -> list[_Candidate]:
    """The candidates worth consulting: those reaching the leading hypotheses, best static reach first."""
    cfs = _hypotheses(report)
    weights = {n: max(cf, 0.1) * (1.0 - cf) for n, cf in cfs.items()}
    scored = []
    for cand in list(_assessment_candidates(kb, case, list(cfs), skips)) + list(_history_candidates(kb, case, skips)):
        reach = (_history_reach(kb, kb.history[cand.id]) if cand.kind == "history"
                 else plan._assessment_reach(kb, kb.assessments[cand.id]))
        value = _static_value(reach, weights) if weights else sum(reach.values())
        if value > 0:
            scored.append((-value, cand.kind == "history", cand.id, cand.side, cand))
    scored.sort(key=lambda t: t[:4])
    return [t[-1] for t in scored[:SHORTLIST]]


def _simulate(consultant, case: Case, before: dict, cand: _Candidate) -> tuple[float, dict[str, dict]]:
    """The expected change of one candidate and the root certainties after each answer."""
    outcomes: dict[str, dict] = {}
    total = 0.0
    for answer in cand.answers:
        after = _confidences(consultant.consult(add_answer(case, cand.kind, cand.id, cand.side, answer)))
        outcomes[answer] = after
        total += _change(before, after)
    return total / len(cand.answers), outcomes


def _lower_first(label: str) -> str:
    """A label inside a sentence: first letter lower case unless it starts an acronym (SIJ, TFL)."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def _root_words(kb: KnowledgeBase, key: tuple[str, str]) -> str:
    side = f" ({key[1]})" if key[1] else ""
    return f"{_lower_first(kb.roots[key[0]].label)}{side}"


def _label(kb: KnowledgeBase, cand: _Candidate) -> str:
    return kb.history[cand.id].label if cand.kind == "history" else kb.label(cand.id)


def _question_words(kb: KnowledgeBase, cand: _Candidate) -> str:
    """'Ober test on the right' / 'Knee valgus' / 'Runs regularly'."""
    return f"{_label(kb, cand)}{f' on the {cand.side}' if cand.side else ''}"


def _answer_words(kb: KnowledgeBase, cand: _Candidate, answer: str) -> str:
    """'a positive Ober test on the right' / 'knee valgus seen on the right' / 'runs regularly: no'."""
    label = _lower_first(_label(kb, cand))
    side = f" on the {cand.side}" if cand.side else ""
    if cand.kind == "test":
        article = "an" if answer[0] in "aeiou" else "a"
        return f"{article} {answer} {label}{side}"
    if cand.kind == "finding":
        return f"{label} seen{side}" if answer == "present" else f"no {label}{side}"
    return f"{label}: {'yes' if answer == 'present' else 'no'}"


def _leader(confidences: dict) -> tuple[str, str] | None:
    return min(confidences, key=lambda k: (-confidences[k], k)) if confidences else None


def _largest_move(before: dict, outcomes: dict[str, dict]) -> tuple[str, tuple[str, str] | None, float]:
    """The answer and root that move most (ties by answer order, then root id) and by how much."""
    best: tuple[str, tuple[str, str] | None, float] = ("", None, 0.0)
    for answer, after in outcomes.items():
        for key in sorted(set(after) | set(before)):
            gain = after.get(key, 0.0) - before.get(key, 0.0)
            if abs(gain) > abs(best[2]) + 1e-9:
                best = (answer, key, gain)
    return best


def _rationale(kb: KnowledgeBase, cand: _Candidate, before: dict, outcomes: dict[str, dict]) -> str:
    """One line naming what the answer would separate, in KB labels."""
    first, second = cand.answers
    lead_first, lead_second = _leader(outcomes[first]), _leader(outcomes[second])
    if lead_first and lead_second and lead_first != lead_second:
        line = (f"{_answer_words(kb, cand, first)} would point to {_root_words(kb, lead_first)}, "
                f"{_answer_words(kb, cand, second)} to {_root_words(kb, lead_second)}.")
        return line[0].upper() + line[1:]
    answer, key, gain = _largest_move(before, outcomes)
    if key is None:
        return f"Asking for {_lower_first(_question_words(kb, cand))} changes little."
    rivals = [k for k in sorted(before, key=lambda k: (-before[k], k)) if k != key]
    line = (f"{_answer_words(kb, cand, answer)} would {'raise' if gain > 0 else 'lower'} {_root_words(kb, key)} "
            f"({before.get(key, 0.0):.2f} -> {outcomes[answer].get(key, 0.0):.2f})")
    if rivals:
        line += f", separating it from {_root_words(kb, rivals[0])}"
    return line[0].upper() + line[1:] + "."


def _question(kb: KnowledgeBase, cand: _Candidate) -> dict:
    side = f" on the {cand.side}" if cand.side else ""
    if cand.kind == "history":
        item = kb.history[cand.id]
        return {"id": item.id, "kind": "history", "text": f"Does this apply: {_lower_first(item.label)}?",
                "how_to": "Ask the person.", "side": None, "label": item.label, "answers": list(cand.answers)}
    assessment = kb.assessments[cand.id]
    if cand.kind == "test":
        text = f"{assessment.label}{side}: positive or negative?"
    else:
        text = f"{assessment.label}{side}: present or absent?"
    return {"id": assessment.id, "kind": cand.kind, "text": text,
            "how_to": f"{assessment.how} {assessment.reading}".strip(), "side": cand.side or None,
            "label": assessment.label, "answers": list(cand.answers)}


def _clear(report) -> str:
    """Why the top root is clear enough to stop, or ``""``."""
    roots = report.root_causes
    if not roots:
        return ""
    top = roots[0]
    margin = top.confidence - (roots[1].confidence if len(roots) > 1 else 0.0)
    if top.confidence >= CLEAR_MIN and (top.status == "confirmed" or margin >= CLEAR_MARGIN):
        how = "confirmed by a test" if top.status == "confirmed" else f"{margin:.2f} ahead of the next"
        return f"The leading root, {in_sentence(top.label)} ({top.confidence:.2f}), is clear: {how}."
    return ""


def _result(question: dict | None, rationale: str, stop: bool, report, scored: list | None = None) -> dict:
    out: dict[str, Any] = {"question": question, "rationale": rationale, "should_stop": stop,
                           "ranking": ranking(report), "triage": report.triage.level}
    if scored is not None:
        out["candidates"] = scored
    return out


def next_question(consultant, case: object, skipped: Iterable[str] = (), *, strict: bool = False) -> dict:
    """The next question of an interview on ``case`` (a raw case dict or a parsed :class:`Case`).

    ``skipped``: ids (or ``id:side``) the user chose not to answer. Returns ``{question: {id, kind,
    text, how_to, side, label, answers}, rationale, should_stop, ranking: [{id, label, side,
    confidence}], triage}`` plus ``candidates`` (the consulted shortlist with its scores) after the red
    flags. ``question`` is ``None`` only when nothing is left to ask (or an alarm stops the interview).
    Bad input raises ``CaseError`` (``strict``: an unknown term too)."""
    kb = consultant.kb
    parsed = consultant.parse(case, strict)
    report = consultant.consult(parsed)
    alarm = _alarm_stop(kb, report)
    if alarm:
        return _result(None, alarm, True, report)
    skips = _skips(skipped)
    flag = _red_flag_question(kb, report, skips)
    if flag is not None:
        why = f"Red flags first: {in_sentence(flag['label'])} ({flag['level']}) is on this pain's screening list."
        return _result(flag, why, False, report)
    return _best_assessment(consultant, parsed, report, skips)


def _best_assessment(consultant, case: Case, report, skips) -> dict:
    kb = consultant.kb
    before = _confidences(report)
    scored = []
    for cand in _shortlist(kb, case, report, skips):
        value, outcomes = _simulate(consultant, case, before, cand)
        scored.append((-round(value, 9), cand.kind, cand.id, cand.side, cand, outcomes))
    scored.sort(key=lambda t: t[:4])
    listed = [{"id": t[2], "kind": t[1], "side": t[3] or None, "expected_change": round(-t[0], 4)} for t in scored]
    clear = _clear(report)
    if not scored or -scored[0][0] < MIN_CHANGE:
        why = clear or "No remaining question changes the leading roots measurably."
        return _result(_question(kb, scored[0][4]) if scored else None, why, True, report, listed)
    best = scored[0]
    rationale = _rationale(kb, best[4], before, best[5])
    if clear:
        rationale = f"{clear} If you go on: {rationale}"
    return _result(_question(kb, best[4]), rationale, bool(clear), report, listed)
