"""Visits over time: which imbalances resolved, improved, persist, worsened or are new, and what to do
with each exercise.

``compare_visits(consultant, first, second)`` consults both visits (cases, in time order when they
carry a ``date``) and reads the two reports side by side:

* **roots** (muscle-imbalance patterns), by how certain the evidence of each visit makes them (a
  test now normal lowers it): ``improved`` / ``worse`` when the certainty moved by at least
  :data:`CHANGE` (0.1), ``resolved`` / ``new`` when that move also crosses "possible" (0.2), else
  ``persists``;
* **targets**: ``keep`` (in both plans; ``progress`` when its root improved: move to the next step of
  the exercise's progression), ``drop`` (only in the first plan: its root resolved or is no longer
  followed), ``add`` (only in the second);
* **review**: the seeds' advice is a review of posture and muscle balance about every 6 months; the
  next review is 6 months after the later visit's date, or sooner (4-6 weeks) while a red flag,
  a worsening pattern or new imbalance needs watching.
"""

from __future__ import annotations

import datetime

from compensa.errors import CaseError, Problem

__all__ = ["CHANGE", "POSSIBLE", "compare_visits"]

#: A root counts as present from this certainty (the report's "possible").
POSSIBLE = 0.2
#: A change in certainty at least this large is an improvement or a worsening, not noise.
CHANGE = 0.1
_REVIEW_MONTHS = 6


def _roots(report) -> dict[tuple, dict]:
    return {(r["id"], r.get("side")): r for r in report.to_dict()["root_causes"]}


def _root_status(was: float, now: float) -> str:
    """resolved / new only when it crosses "possible" by a real change (no flicker at the line)."""
    if now <= was - CHANGE:
        return "resolved" if now < POSSIBLE <= was else "improved"
    if now >= was + CHANGE:
        return "new" if was < POSSIBLE <= now else "worse"
    return "persists"


def _root_rows(first, second) -> list[dict]:
    old, new = _roots(first), _roots(second)
    rows = []
    for key in sorted(set(old) | set(new), key=lambda k: (k[0], k[1] or "")):
        a, b = old.get(key, {}), new.get(key, {})
        was, now = a.get("confidence", 0.0), b.get("confidence", 0.0)
        if max(was, now) < POSSIBLE:
            continue
        rows.append({"id": key[0], "side": key[1], "label": (b or a)["label"], "before": was, "after": now,
                     "status": _root_status(was, now)})
    return rows


def _target_rows(first, second, root_status: dict[str, str]) -> list[dict]:
    def keyed(report) -> dict:
        return {(t.muscle, t.action, t.side): t for t in report.targets}

    old, new = keyed(first), keyed(second)
    rows = []
    for key in sorted(set(old) | set(new), key=lambda k: (k[0], k[1], k[2] or "")):
        target = new.get(key) or old[key]
        if key in old and key in new:
            advice = "progress" if root_status.get(target.root) == "improved" else "keep"
        else:
            advice = "add" if key in new else "drop"
        exercise = target.exercise.model_dump() if target.exercise is not None else None
        rows.append({"muscle": key[0], "label": target.label, "action": key[1], "side": key[2], "root": target.root,
                     "advice": advice, "exercise": exercise})
    return rows


def _date(case) -> datetime.date | None:
    text = case.context.date  # validated as an ISO date by the case contract
    return datetime.date.fromisoformat(text) if text else None


def _add_months(day: datetime.date, months: int) -> datetime.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return datetime.date(year, month, min(day.day, 28))


def _review(second, roots: list[dict], when: datetime.date | None) -> dict:
    watch = [r["label"] for r in roots if r["status"] in ("worse", "new")]
    if second.plan_withheld:
        return {"when": None, "why": "A red flag withholds the exercise plan: review after the medical assessment. "
                                     + second.triage.advice}
    if watch:
        weeks = 6
        why = (f"Review in about {weeks} weeks: {', '.join(watch)} got worse or appeared; check the programme "
               "and the diagnosis before going on.")
    else:
        weeks = 0
        why = ("Review posture and muscle balance in about 6 months (sooner if the pain returns), to catch new "
               "imbalances early.")
    if when is None:
        return {"when": None, "why": why}
    due = when + datetime.timedelta(weeks=weeks) if weeks else _add_months(when, _REVIEW_MONTHS)
    return {"when": due.isoformat(), "why": why}


def compare_visits(consultant, first: object, second: object, strict: bool = False) -> dict:
    """Two visits of one person compared (they are put in date order when both carry a date)."""
    first, second = consultant.parse(first, strict), consultant.parse(second, strict)
    one, two = _date(first), _date(second)
    if one is not None and two is not None and two < one:
        first, second, one, two = second, first, two, one
    a, b = consultant.consult(first), consultant.consult(second)
    roots = _root_rows(a, b)
    status = {r["id"]: r["status"] for r in roots}
    groups = {s: [r for r in roots if r["status"] == s] for s in ("resolved", "improved", "persists", "worse", "new")}
    return {
        "visits": [{"date": d.isoformat() if d else None, "triage": r.triage.level, "plan_withheld": r.plan_withheld}
                   for d, r in ((one, a), (two, b))],
        "weeks_between": (two - one).days // 7 if one and two else None,
        **groups,
        "targets": _target_rows(a, b, status),
        "review": _review(b, roots, two),
        "kb_version": b.data.kb_version,
        "disclaimer": b.data.disclaimer,
    }


def visits_from(body: object) -> tuple[object, object]:
    """The two cases of ``{visits: [case, case]}`` (the HTTP body), or a clear error."""
    visits = body.get("visits") if isinstance(body, dict) else None
    if isinstance(body, dict) and set(body) - {"visits", "strict"}:
        extra = sorted(set(body) - {"visits", "strict"})[0]
        raise CaseError(Problem(f"unknown field {extra!r}: the body is {{\"visits\": [case, case]}}", extra, extra,
                                ("visits", "strict")))
    if not isinstance(visits, list) or len(visits) != 2:
        raise CaseError(Problem("give {\"visits\": [first case, second case]}: exactly two visits", "visits"))
    return visits[0], visits[1]
