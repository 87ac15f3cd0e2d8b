"""The report's ``warnings``: every caveat a reader must see before trusting the plan.

Each warning is ``{code, message, where}`` (``where`` points into the report: ``triage.screened``,
``targets[2]``, ``root_causes[0]``, ``case.tests``), plus fields of its own. Codes:

* ``not_screened`` - the red-flag screening is ``none`` or ``partial``: the questions not asked
  for these pain sites (the general ones when nothing was asked and the sites have no list).
* ``sides_disagree`` - the pain is on one side, but the sided tests and findings, or the plan's
  targets, are all on the other side.
* ``test_disagrees`` - a test argued against a targeted muscle, or against the root a target comes from.
* ``visual_only`` / ``tests_only`` - the plan rests on visual findings alone, or on tests alone.

Warnings are built after the plan, from the case, the reasoning and the report's own lists, so
they never change a conclusion: they say how far to trust it. Ordered as listed above.
"""

from __future__ import annotations

from compensa.engine.case import Case
from compensa.engine.plan import REFUTED, disagreeing_tests, evidence_words
from compensa.engine.reasoning import Reasoning
from compensa.kb.model import KnowledgeBase, in_sentence, muscle_state_id

__all__ = ["warnings"]

_OTHER = {"left": "right", "right": "left"}


def _warning(code: str, message: str, where: str, **extra) -> dict:
    return {"code": code, "message": message, "where": where, **extra}


def _not_screened(kb: KnowledgeBase, case: Case, triage: dict) -> list[dict]:
    screened = triage["screened"]
    if screened == "complete":
        return []
    questions, general = [dict(q) for q in triage["ask"]], bool(triage["general_screening"])
    if screened == "none":
        message = "Red flags not screened: no red-flag question was answered, so nothing is known to be clear."
    else:
        message = "Red flags partly screened: some questions worth asking for this pain were not asked."
    if general:
        message += (" No screening list is specific to the pain given; ask at least the general questions "
                    "(cancer, infection, fracture, feeling unwell) before starting any exercise.")
    elif questions:
        message += f" Ask these {len(questions)} before starting any exercise."
    elif not case.of_kind("pain"):
        message += " No pain was given; ask the red-flag questions as soon as there is pain or any other symptom."
    return [_warning("not_screened", message, "triage.screened", screened=screened, questions=questions,
                     general=general)]


def _sides(items) -> set[str]:
    return {e.side for e in items if e.side}


def _side_words(sides: set[str]) -> str:
    return "both sides" if len(sides) > 1 else f"the {next(iter(sides))}"


def _sides_message(pain: set[str], examined: set[str], targeted: set[str]) -> tuple[str, str] | None:
    """(where, message) when the painful sides never meet the examined sides, or the targeted ones."""
    if examined and not examined & pain:
        follows = "the plan follows the tested side" if targeted else "the results rest on the tested side"
        return "case.tests", (f"Pain is on {_side_words(pain)}, but every sided test and finding is on "
                              f"{_side_words(examined)}: {follows}. The painful side was not examined; a cause on the "
                              f"other side is possible, but test the painful side before relying on this.")
    if targeted and not targeted & pain:
        return "targets", (f"Pain is on {_side_words(pain)}, but every sided target is on {_side_words(targeted)}, "
                           f"where the tests found the imbalance. A cause on the other side is possible, but this may "
                           f"not explain the pain: recheck the painful side before relying on this plan.")
    return None


def _sides_disagree(case: Case, targets: list[dict]) -> list[dict]:
    """Painful side(s) vs the side(s) examined and targeted: a warning when they never meet."""
    pain = _sides(case.of_kind("pain"))
    examined = _sides(e for e in case.evidence if e.kind in ("test", "finding"))
    targeted = {t["side"] for t in targets if t.get("side")}
    found = _sides_message(pain, examined, targeted) if pain else None
    if not found:
        return []
    return [_warning("sides_disagree", found[1], found[0], pain_sides=sorted(pain), tested_sides=sorted(examined),
                     target_sides=sorted(targeted))]


def _target_disagreements(targets: list[dict]) -> list[dict]:
    out = []
    for index, target in enumerate(targets):
        if target.get("disagreement"):
            side = f" ({target['side']})" if target.get("side") else ""
            message = f"{target['label']}{side}, to {target['action']}: {target['disagreement']['text']}."
            out.append(_warning("test_disagrees", message, f"targets[{index}]", muscle=target["muscle"],
                                tests=target["disagreement"]["tests"]))
    return out


def _test_words(kb: KnowledgeBase, reasoning: Reasoning, root_id: str, ev: tuple) -> str:
    """'Thomas test negative on the right (it found the iliopsoas not tight: left out)'."""
    side = ev[3]
    root = kb.roots[root_id]
    refuted = [f"the {in_sentence(kb.muscles[m].label)} not {state}"
               for state, muscles in (("tight", root.tight), ("weak", root.weak)) for m in muscles
               if _refuted_by(reasoning, ("Belief", muscle_state_id(m, state), side), ev)]
    return evidence_words(kb, ev) + (f" (it found {' and '.join(refuted)}: left out)" if refuted else "")


def _refuted_by(reasoning: Reasoning, state_key: tuple, ev: tuple) -> bool:
    """Whether a muscle state is refuted (so left out of the plan) with ``ev`` among the tests against it."""
    return reasoning.reported_cf(state_key) <= REFUTED and ev in dict(disagreeing_tests(reasoning, state_key))


def _targets_from(root: dict, targets: list[dict]) -> list[dict]:
    """The targets that come from a reported root (as their root or one of their ``also_roots``)."""
    side = root.get("side") or ""
    return [t for t in targets if side == (t.get("side") or "") and root["id"] in (t["root"], *t["also_roots"])]


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _named_at(targets: list[dict]) -> set[tuple]:
    """The (test, side, result) already named in these targets' own disagreements."""
    return {(d["test"], d["side"], d["result"]) for t in targets if t.get("disagreement")
            for d in t["disagreement"]["tests"]}


def _root_disagreement(kb: KnowledgeBase, reasoning: Reasoning, index: int, root: dict, own: list[dict]) -> dict | None:
    """A ``test_disagrees`` warning for tests against a root, beyond those already named at its targets."""
    named = _named_at(own)
    against = [(ev, w) for ev, w in disagreeing_tests(reasoning, ("Belief", root["id"], root.get("side") or ""))
               if (ev[2], ev[3] or None, ev[4]) not in named]
    if not against:
        return None
    words = " and ".join(_test_words(kb, reasoning, root["id"], ev) for ev, _ in against)
    message = (f"{words} {_plural(len(against), 'argues', 'argue')} against {in_sentence(root['label'])} "
               f"(now {root['confidence']:.2f}), which {len(own)} {_plural(len(own), 'target comes', 'targets come')} "
               f"from: confirm each muscle before loading it.")
    return _warning("test_disagrees", message, f"root_causes[{index}]", root=root["id"],
                    tests=[{"test": ev[2], "side": ev[3] or None, "result": ev[4], "weight": round(w, 3)}
                           for ev, w in against])


def _root_disagreements(kb: KnowledgeBase, reasoning: Reasoning, roots: list[dict], targets: list[dict]) -> list[dict]:
    """Tests against the roots that targets come from (beyond those already named at the targets)."""
    found = (_root_disagreement(kb, reasoning, i, root, own)
             for i, root in enumerate(roots) for own in [_targets_from(root, targets)] if own)
    return [w for w in found if w]


def _evidence_basis(case: Case, targets: list[dict]) -> list[dict]:
    if not targets:
        return []
    if not case.of_kind("test"):
        return [_warning("visual_only", "The plan rests on visual findings alone: no physical test was done. The "
                         "physical should confirm the visual - do the next assessments before loading.", "targets")]
    if not case.of_kind("finding"):
        return [_warning("tests_only", "The plan rests on tests alone: no posture or movement finding was recorded. "
                         "Look at posture to check the pattern fits.", "targets")]
    return []


def _not_understood(case: Case) -> list[dict]:
    """``unmatched_red_flag`` for each unknown red-flag answer given yes or unsure (first of all), then
    one ``unrecognised`` naming every other term that was not understood."""
    out = [_warning("unmatched_red_flag", f"Possible red flag not recognised: '{u.term}' answered {u.answer}; the "
                    "plan is withheld until a clinician has reviewed it.", u.where) for u in case.unmatched_red_flags]
    rest = [u for u in case.unrecognised if u not in case.unmatched_red_flags]
    if rest:
        named = "; ".join(f"'{u.term}' ({u.where})" for u in rest)
        out.append(_warning("unrecognised", f"Not understood, so not used: {named}. See unrecognised for the "
                            "closest known terms.", "unrecognised"))
    return out


def warnings(kb: KnowledgeBase, reasoning: Reasoning, case: Case, triage: dict, roots: list[dict],
             targets: list[dict]) -> list[dict]:
    """Every caveat of one report, in the module's order (not understood, screening, sides, tests, evidence)."""
    return [*_not_understood(case), *_not_screened(kb, case, triage), *_sides_disagree(case, targets), *_target_disagreements(targets),
            *_root_disagreements(kb, reasoning, roots, targets), *_evidence_basis(case, targets)]
