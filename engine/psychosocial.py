"""Yellow flags: the psychosocial side of the report (STarT Back stratification). Never a triage level.

STarT Back (Hill 2008; matched care tested in Hill 2011) scores 9 yes/no items: leg pain, neck or
shoulder pain, walking only short distances, dressing more slowly, then the psychosocial subscale
(items 5-9: not safe to be active, worrying thoughts, catastrophising, low mood, very bothersome).
Total 0-3 is low risk; 4 or more is medium, or high when the subscale is 4 or 5. The stratum changes
how the plan is framed (self-management, physiotherapy, psychologically informed physiotherapy);
it never hides the plan. Items 1 and 2 are answered by the pain sites where the KB says so. Items not
asked are counted as no and reported, so an incomplete screen is never shown as low risk without
saying so; with no item answered at all the risk is ``not_assessed``.
"""

from __future__ import annotations

from compensa.engine.case import Case
from compensa.kb.model import KnowledgeBase, in_sentence

__all__ = ["ADVICE", "psychosocial"]

#: What each stratum means for the plan (matched care, Hill 2011), in our words.
ADVICE = {
    "low": ("Low psychosocial risk: advice, reassurance and self-management are the main treatment; keep the "
            "exercise plan short and progress it independently."),
    "medium": ("Medium risk: physiotherapy for pain and function alongside the plan; review how activity is "
               "going at each visit."),
    "high": ("High psychosocial risk: consider psychologically informed physiotherapy. Frame the plan as graded "
             "exposure - start below the level that feels threatening and build up steadily - and explain that "
             "hurt is not harm; keep the number of exercises small."),
    "not_assessed": ("Yellow flags not yet asked: ask about fear of activity, worry, low mood and how bothersome "
                     "the pain is (STarT Back) - they change how the plan should be delivered, never whether."),
}


def _answers(kb: KnowledgeBase, case: Case) -> dict[str, bool]:
    """Each yellow flag answered (by the case, or yes by a pain site that answers it)."""
    answers = {e.id: e.value == "present" for e in case.of_kind("yellow_flag")}
    painful = {e.id for e in case.of_kind("pain")}
    for flag in kb.yellow_flags.values():
        if flag.from_pain and painful & set(flag.from_pain):
            answers[flag.id] = True  # leg pain is leg pain, whether or not the item was asked
    return answers


def _risk(case: Case, score: int, subscore: int) -> str:
    """The STarT Back stratum (not_assessed when no yellow flag was answered at all)."""
    if not any(e.kind == "yellow_flag" for e in case.evidence):
        return "not_assessed"
    if score <= 3:
        return "low"
    return "high" if subscore >= 4 else "medium"


def _advice(kb: KnowledgeBase, case: Case, risk: str, missing: list, flags: list[str]) -> str:
    advice = ADVICE[risk]
    if missing and risk != "not_assessed":
        advice += f" Not asked (counted as no, so the risk may be higher): {', '.join(missing)}."
    if risk != "not_assessed" and not any(e.id == "lower_back" for e in case.of_kind("pain")):
        advice += " STarT Back is validated for low back pain; elsewhere it is a guide only."
    return advice + "".join(f" {kb.yellow_flags[f].advice}" for f in flags if kb.yellow_flags[f].advice)


def psychosocial(kb: KnowledgeBase, case: Case) -> dict:
    """The report's ``psychosocial`` block: STarT Back score and stratum, flags raised, advice."""
    answers = _answers(kb, case)
    items = {f.startback_item: f for f in kb.yellow_flags.values() if f.startback_item}
    flags = sorted(f for f, yes in answers.items() if yes)
    missing = sorted(i for i, f in items.items() if f.id not in answers)
    score = sum(1 for f in items.values() if answers.get(f.id))
    subscore = sum(1 for f in items.values() if f.psychosocial and answers.get(f.id))
    risk = _risk(case, score, subscore)
    advice = _advice(kb, case, risk, [in_sentence(items[i].label) for i in missing], flags)
    return {"tool": "STarT Back", "risk": risk, "score": score, "subscore": subscore,
            "complete": not missing, "not_asked": [items[i].id for i in missing], "flags": flags,
            "advice": advice, "source": "hill_2011_startback"}
