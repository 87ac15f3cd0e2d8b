"""The consultation report as text a clinician can read at a glance.

Order: triage first (a red flag is the first line), then ranked root causes with confidence and
status, the targets table (marking the ones away from the pain), next assessments, review advice,
and the disclaimer last.
"""

from __future__ import annotations

import textwrap

__all__ = ["report_text"]

_WIDTH = 100


def _wrap(text: str, indent: str = "  ") -> str:
    return textwrap.fill(text, _WIDTH, initial_indent=indent, subsequent_indent=indent + "  ")


def _side(item: dict) -> str:
    return f" ({item['side']})" if item.get("side") else ""


def _bar(cf: float) -> str:
    filled = max(0, min(10, round(cf * 10)))
    return "#" * filled + "." * (10 - filled)


def report_text(report: dict) -> str:
    """Render a report dict (``Report.to_dict()``) as plain text."""
    lines: list[str] = []
    triage = report["triage"]
    name = report.get("case", {}).get("name")
    lines.append(f"compensa consultation{': ' + name if name else ''}   [{report['kb_version']}]")
    lines.append("")
    level = triage["level"].upper().replace("_", " ")
    if triage["red_flags"]:
        lines.append(f"!!! TRIAGE: {level} — red flags: {', '.join(triage['red_flags'])}")
        lines.append(_wrap(triage["advice"]))
        lines.append("  The exercise plan is withheld.")
    else:
        lines.append(f"TRIAGE: {level}")
        lines.append(_wrap(triage["advice"]))
    lines.append("")

    lines.append("LIKELY ROOT CAUSES")
    if not report["root_causes"]:
        lines.append("  none reached" + (" (screening stopped at an emergency red flag)" if report["engine"]["halted"] else
                                         ": add findings or tests (see next assessments)"))
    for i, root in enumerate(report["root_causes"][:6], 1):
        lines.append(f"  {i}. {root['label']}{_side(root)}  {_bar(root['confidence'])} {root['confidence']:.2f}  {root['status']}")
        if root["supporting"]:
            lines.append(_wrap("for: " + ", ".join(_ev(e) for e in root["supporting"][:6]), "       "))
        if root["conflicting"]:
            lines.append(_wrap("against: " + ", ".join(_ev(e) for e in root["conflicting"][:6]), "       "))
        if root["unconfirmed"]:
            lines.append(_wrap("not yet confirmed physically; would confirm: " + ", ".join(root["unconfirmed"][:4]), "       "))
    if report["conditions"]:
        lines.append("")
        lines.append("CONDITIONS CONSISTENT WITH THE PAIN")
        for c in report["conditions"][:5]:
            medical = "  (medical diagnosis needed)" if c["medical"] else ""
            lines.append(f"  - {c['label']}{_side(c)}  {c['confidence']:.2f}{medical}")
    if report["dysfunctions"]:
        lines.append("")
        lines.append("POSTURAL / MOVEMENT DYSFUNCTIONS")
        lines.append(_wrap(", ".join(f"{d['label']}{_side(d)} {d['confidence']:.2f}" for d in report["dysfunctions"][:8])))
    lines.append("")
    lines.append("TARGETS")
    if report["plan_withheld"]:
        lines.append("  withheld: red flags come first. Seek medical assessment.")
    elif not report["targets"]:
        lines.append("  none yet: no root imbalance is likely enough, or confirmed by a finding or test, to act on.")
        lines.append("  Do the next assessments first: exercise without them risks training the wrong muscles.")
    else:
        lines.append(f"  {'muscle':<24}{'action':<12}{'side':<7}{'hurts?':<8}exercise")
        for t in report["targets"]:
            hurt = ("yes" if t["painful"] else "no  *") + ("?" if t.get("tentative") else "")
            exercise = t["exercise"]["label"] if t.get("exercise") else "-"
            lines.append(f"  {t['label']:<24}{t['action']:<12}{(t['side'] or '-'):<7}{hurt:<8}{exercise}")
        lines.append("  * away from the pain: treat where the chain starts, not where it hurts.")
        if any(t.get("tentative") for t in report["targets"]):
            lines.append("  ? tentative: no test confirms it yet; check the muscle before loading it.")
        lines.append("")
        for t in report["targets"]:
            lines.append(_wrap(f"{t['label']}: {t['because']}"))
            lines.append(_wrap("chain: " + " -> ".join(t["chain"]), "    "))
    if report["next_assessments"]:
        lines.append("")
        lines.append("NEXT ASSESSMENTS")
        for n in report["next_assessments"]:
            lines.append(_wrap(f"- {n['label']}{_side(n)}: {n['why']}"))
    if report.get("review_advice"):
        lines.append("")
        lines.append(_wrap(report["review_advice"], ""))
    lines.append("")
    lines.append(_wrap(report["disclaimer"], ""))
    return "\n".join(lines) + "\n"


def _ev(e: dict) -> str:
    side = f" {e['side']}" if e.get("side") else ""
    return f"{e['id']}{side} {e['value']}"
