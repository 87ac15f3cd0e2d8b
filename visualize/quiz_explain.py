"""The quiz's feedback: a student's answer explained with the same WHY / HOW / WHY NOT as ``explain``.

:func:`explain_answer` is the :data:`compensa.engine.quiz.Explainer` hook; :func:`quiz_view` is
:func:`compensa.engine.quiz.quiz_view` with it (what the CLI and the HTTP service call).

The items, in order: WHY NOT the student's root when it is wrong (or when the case expects none),
WHY NOT each expected root compensa does not rank first, WHY each missed target, WHY (not) each
extra or harmful pick, and HOW compensa reached its own conclusions.
"""

from __future__ import annotations

from compensa.engine import quiz as engine_quiz
from compensa.visualize.explain import how, to_text, why_not, why_target

__all__ = ["explain_answer", "quiz_view"]


def _item(kind: str, about: str, heading: str, data: dict) -> dict:
    text = (heading + "\n" if heading else "") + to_text(data)
    return {"kind": kind, "about": about, "text": text}


def _root_items(report, root: dict, vocab) -> list[dict]:
    """WHY NOT the student's wrong root, and WHY NOT the expected root where compensa ranks it low."""
    items = []
    if not root["correct"] and root["answer"]:
        heading = ("Your root is in compensa's top 3, but not the one this case expects." if root["partial"]
                   else "Your root:")
        items.append(_item("why_not", root["answer"], heading, why_not(report, root["answer"], vocab)))
    if not root["correct"] and not root["expected"]:
        items.append({"kind": "note", "about": "no_root",
                      "text": "This case expects no root imbalance: the evidence is too thin to name one, "
                              "or a red flag comes first (see the triage).\n"})
    top = report.root_causes[0].id if report.root_causes else None
    for expected in root["expected"]:
        if not root["correct"] and expected != top:
            items.append(_item("why_not", expected, "The expected root, as compensa sees it:",
                               why_not(report, expected, vocab)))
    return items


def _target_items(report, targets: dict, vocab) -> list[dict]:
    """WHY each missed target is treated, and WHY (or why not) each extra or harmful pick."""
    items = []
    for t in targets["missed"]:
        items.append(_item("why_target", t["muscle"], f"You missed: {t['action']} {t['label']}.",
                           why_target(report, t["muscle"], vocab)))
    for t in targets["harmful"]:
        items.append(_item("why_target", t["muscle"],
                           f"HARMFUL: {t['action']} {t['label']} is a pick this case warns against.",
                           why_target(report, t["muscle"], vocab)))
    for t in targets["extra"]:
        items.append(_item("why_target", t["muscle"], f"Not expected: {t['action']} {t['label']}.",
                           why_target(report, t["muscle"], vocab)))
    return items


def explain_answer(report, score: dict, vocabulary) -> dict:
    """``{items: [{kind, about, text}], text}``: the differences between an answer and the case, in
    the words of ``compensa explain`` (WHY NOT, WHY, HOW), built from compensa's report of the case."""
    items = _root_items(report, score["root"], vocabulary) + _target_items(report, score["targets"], vocabulary)
    items.append(_item("how", "compensa", "How compensa reached its answer:", how(report)))
    return {"items": items, "text": "\n".join(i["text"] for i in items)}


def quiz_view(consultant, case_id: str | None = None, region: str | None = None, asked=(), answer: object = None,
              seed: int | None = None, folder=None) -> dict:
    """:func:`compensa.engine.quiz.quiz_view` with its answer explained by :func:`explain_answer`."""
    return engine_quiz.quiz_view(consultant, case_id, region, asked, answer, seed, explain=explain_answer,
                                 folder=folder)
