"""The consultation report as text a clinician can read at a glance.

Order: triage first (a red flag is the first line; unscreened red flags are said plainly, with the
questions to ask), then the warnings (sides that disagree, tests that disagree, ...), ranked root
causes with confidence and status, the targets table (marking the ones away from the pain, every
withheld exercise with its reason), next assessments, review advice, and the disclaimer last.
"""

from __future__ import annotations

import textwrap

__all__ = ["report_text"]

_WIDTH = 100
#: Questions listed in full under an unscreened triage; the rest are named by label.
_QUESTIONS_SHOWN = 6
_SCREENING_WORDS = {"none": "Red flags not screened", "partial": "Red flags partly screened"}


def _wrap(text: str, indent: str = "  ") -> str:
    return textwrap.fill(text, _WIDTH, initial_indent=indent, subsequent_indent=indent + "  ")


def _side(item: dict) -> str:
    return f" ({item['side']})" if item.get("side") else ""


def _bar(cf: float) -> str:
    filled = max(0, min(10, round(cf * 10)))
    return "#" * filled + "." * (10 - filled)


def _warning(report: dict, code: str) -> dict | None:
    return next((w for w in report.get("warnings", ()) if w["code"] == code), None)


def _triage_lines(report: dict) -> list[str]:
    """The triage heading and advice; an incomplete screening is never shown as clear."""
    triage = report["triage"]
    level = triage["level"].upper().replace("_", " ")
    screening = _warning(report, "not_screened")
    alarms = [*triage["red_flags"], *triage.get("clusters", ()), *(f"'{t}' (not recognised)" for t in triage.get("unmatched", ()))]
    if alarms:
        lines = [f"!!! TRIAGE: {level} — red flags: {', '.join(alarms)}", _wrap(triage["advice"]),
                 "  The exercise plan is withheld."]
    elif screening:
        lines = [f"TRIAGE: {level} — {_SCREENING_WORDS.get(screening['screened'], 'Red flags not screened')}",
                 _wrap(triage["advice"])]
    else:
        lines = [f"TRIAGE: {level}", _wrap(triage["advice"])]
    return lines + (_question_lines(screening, bool(alarms)) if screening else [])


def _question_lines(screening: dict, flagged: bool) -> list[str]:
    """The red-flag questions not asked, in full for the first few and by label for the rest."""
    questions = screening.get("questions", [])
    if not questions:
        return []  # the advice above already says so
    kind = "general screening questions" if screening.get("general") else "not yet asked for this pain"
    lines = [f"  {'Also ask' if flagged else 'Ask before any exercise'} ({kind}):"]
    lines += [_wrap(f"- {q['label']} [{q['level']}]: {q['question']}", "    ") for q in questions[:_QUESTIONS_SHOWN]]
    rest = questions[_QUESTIONS_SHOWN:]
    if rest:
        lines.append(_wrap(f"... and {len(rest)} more: " + ", ".join(q["label"] for q in rest), "    "))
    return lines


def _warning_lines(report: dict) -> list[str]:
    """Every warning but the screening one (shown with the triage), sides first."""
    shown = [w for w in report.get("warnings", ()) if w["code"] != "not_screened"]
    if not shown:
        return []
    return ["", "WARNINGS"] + [_wrap(f"! {w['message']}") for w in shown]


def _root_lines(report: dict) -> list[str]:
    lines = ["", "LIKELY ROOT CAUSES"]
    if not report["root_causes"]:
        lines.append("  none reached" + (" (screening stopped at an emergency red flag)" if report["engine"]["halted"] else
                                         ": add findings or tests (see next assessments)"))
    for i, root in enumerate(report["root_causes"][:6], 1):
        confidence = f"{_bar(root['confidence'])} {root['confidence']:.2f}"
        lines.append(f"  {i}. {root['label']}{_side(root)}  {confidence}  {root['status']}")
        if root["supporting"]:
            lines.append(_wrap("for: " + ", ".join(_ev(e) for e in root["supporting"][:6]), "       "))
        if root["conflicting"]:
            lines.append(_wrap("against: " + ", ".join(_ev(e) for e in root["conflicting"][:6]), "       "))
        if root["unconfirmed"]:
            lines.append(_wrap("not yet confirmed physically; would confirm: " + ", ".join(root["unconfirmed"][:4]), "       "))
    return lines


def _finding_lines(report: dict) -> list[str]:
    lines = []
    if report["conditions"]:
        lines += ["", "CONDITIONS CONSISTENT WITH THE PAIN"]
        for c in report["conditions"][:5]:
            medical = "  (medical diagnosis needed)" if c["medical"] else ""
            lines.append(f"  - {c['label']}{_side(c)}  {c['confidence']:.2f}{medical}")
    if report["dysfunctions"]:
        lines += ["", "POSTURAL / MOVEMENT DYSFUNCTIONS"]
        lines.append(_wrap(", ".join(f"{d['label']}{_side(d)} {d['confidence']:.2f}" for d in report["dysfunctions"][:8])))
    return lines


def _exercise_cell(target: dict) -> str:
    """The exercise column: never a bare dash - a withheld or missing exercise says so."""
    exercise = target.get("exercise")
    if exercise:
        return exercise["label"] + (" (caution below)" if target.get("caution") else "")
    if target.get("caution"):
        withheld = target.get("withheld") or {}
        return f"WITHHELD: {withheld['label']} (why below)" if withheld.get("label") else "WITHHELD (why below)"
    return "none in the KB: ask a clinician"


def _target_detail(target: dict) -> list[str]:
    lines = [_wrap(f"{target['label']}{_side(target)}: {target['because']}")]
    if target.get("caution"):
        lines.append(_wrap(("caution: " if target.get("exercise") else "") + target["caution"], "    "))
    if target.get("conflict"):
        lines.append(_wrap("note: " + target["conflict"]["note"], "    "))
    lines.append(_wrap("chain: " + " -> ".join(target["chain"]), "    "))
    return lines


def _target_lines(report: dict) -> list[str]:
    lines = ["", "TARGETS"]
    if report["plan_withheld"]:
        return lines + ["  withheld: red flags come first. Seek medical assessment."]
    if not report["targets"]:
        return lines + ["  none yet: no root imbalance is likely enough, or confirmed by a finding or test, to act on.",
                        "  Do the next assessments first: exercise without them risks training the wrong muscles."]
    lines.append(f"  {'muscle':<24}{'action':<12}{'side':<7}{'hurts?':<8}exercise")
    for t in report["targets"]:
        hurt = ("yes" if t["painful"] else "no  *") + ("?" if t.get("tentative") else "")
        lines.append(f"  {t['label']:<24}{t['action']:<12}{(t['side'] or 'both'):<7}{hurt:<8}{_exercise_cell(t)}")
    lines.append("  * away from the pain: treat where the chain starts, not where it hurts.")
    if any(t.get("tentative") for t in report["targets"]):
        lines.append("  ? tentative: no test confirms it yet, or a test disagrees (see below); check the muscle before "
                     "loading it.")
    lines.append("")
    for t in report["targets"]:
        lines += _target_detail(t)
    return lines


def _criteria_lines(report: dict) -> list[str]:
    """The clinical criteria (clusters, decision rules) the case met, with what met them and their advice."""
    if not report.get("criteria"):
        return []
    lines = ["", "CRITERIA MET"]
    for c in report["criteria"]:
        alarm = f" [{c['alarm']}]" if c.get("alarm") else ""
        met = "; ".join(f"{m['label']}{_side(m)} {m['value']}" if m["kind"] not in ("age", "sex") else m["label"]
                        for m in c["met_by"])
        lines.append(_wrap(f"- {c['label']}{_side(c)}{alarm}: met by {met} [{c['source']}]"))
        if c.get("advice") and not c.get("alarm"):  # an alarm's advice is already in the triage
            lines.append(_wrap(c["advice"], "    "))
    return lines


def report_text(report: dict) -> str:
    """Render a report dict (``Report.to_dict()``) as plain text."""
    name = report.get("case", {}).get("name")
    lines = [f"compensa consultation{': ' + name if name else ''}   [{report['kb_version']}]", ""]
    if report.get("unrecognised"):
        lines += ["NOT UNDERSTOOD (not used; the rest was consulted):"]
        for u in report["unrecognised"]:
            hint = f" - did you mean {', '.join(u['suggestions'])}?" if u["suggestions"] else ""
            lines.append(_wrap(f"? '{u['term']}' at {u['where']}{hint}"))
        lines.append("")
    lines += _triage_lines(report)
    lines += _warning_lines(report)
    lines += _criteria_lines(report)
    lines += _root_lines(report)
    lines += _finding_lines(report)
    lines += _target_lines(report)
    if report["next_assessments"]:
        lines += ["", "NEXT ASSESSMENTS"]
        lines += [_wrap(f"- {n['label']}{_side(n)}: {n['why']}") for n in report["next_assessments"]]
    psycho = report.get("psychosocial")
    if psycho:
        score = "" if psycho["risk"] == "not_assessed" else f" (STarT Back {psycho['score']}/9, psychosocial {psycho['subscore']}/5)"
        lines += ["", f"PSYCHOSOCIAL: {psycho['risk'].replace('_', ' ')}{score}", _wrap(psycho["advice"])]
    if report.get("review_advice"):
        lines += ["", _wrap(report["review_advice"], "")]
    lines += ["", _wrap(report["disclaimer"], "")]
    return "\n".join(lines) + "\n"


def _ev(e: dict) -> str:
    side = f" {e['side']}" if e.get("side") else ""
    return f"{e['id']}{side} {e['value']}"
