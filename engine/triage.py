"""Red-flag triage: the first thing every report says.

A present **or unsure** emergency or urgent red flag sets the level, withholds the exercise plan and
says to seek care: an answer the person could not give is never read as clear. Screening is
reported honestly: ``screened`` is ``none`` when no red flag was asked at all, ``partial`` when
some of the pain sites' screening questions were not asked, ``complete`` otherwise; only a complete
screening with nothing present may say "no red flags reported".
"""

from __future__ import annotations

from compensa.engine.case import Case
from compensa.kb.model import KnowledgeBase, in_sentence

__all__ = ["ALARMING", "GENERAL_SCREEN_CATEGORIES", "LEVEL_ORDER", "screening_list", "triage"]

#: Red-flag answers that withhold the plan.
ALARMING = ("present", "unsure")
#: Most severe first.
LEVEL_ORDER = {"emergency": 0, "urgent": 1, "review": 2}
#: Red-flag categories not bound to one body region, asked when no pain site has a list of its own.
GENERAL_SCREEN_CATEGORIES = ("fracture", "infection", "malignancy", "systemic")
#: How many not-asked red flags the advice names (all are in ``not_screened`` and ``ask``).
_SHOWN = 6


def _by_severity(kb: KnowledgeBase, flags) -> list[str]:
    return sorted(set(flags), key=lambda f: (LEVEL_ORDER.get(kb.red_flags[f].level, 9), f))


def screening_list(kb: KnowledgeBase, case: Case) -> tuple[set[str], bool]:
    """The red flags worth asking for the case's pain, and whether they are the general list.

    Each pain site's own list when it has one; for pain only at sites without a list, the general
    questions (IFOMPT 2020: malignancy, infection, fracture and systemic illness can present
    anywhere), emergency and urgent ones only. No pain: no list (the questions are about pain)."""
    sites = {e.id for e in case.of_kind("pain")}
    wanted = {f for site in sites for f in kb.pain_sites[site].screen}
    if wanted or not sites:
        return wanted, False
    general = {f.id for f in kb.red_flags.values()
               if f.category in GENERAL_SCREEN_CATEGORIES and f.level in ("emergency", "urgent")}
    return general, True


def _screening(kb: KnowledgeBase, case: Case) -> tuple[str, list[str], bool]:
    """How complete the screening was (none | partial | complete), the flags not asked (worst first),
    and whether the list is the general one."""
    asked = {e.id for e in case.of_kind("red_flag")}
    wanted, general = screening_list(kb, case)
    not_asked = _by_severity(kb, wanted - asked)
    if not asked:
        return "none", not_asked, general
    return ("partial" if not_asked else "complete"), not_asked, general


def _alarm_advice(kb: KnowledgeBase, alarming: list[str], unsure: list[str], level: str) -> str:
    parts = list(dict.fromkeys(kb.red_flags[f].advice for f in alarming if kb.red_flags[f].level == level))
    if unsure:
        names = ", ".join(in_sentence(kb.red_flags[f].label) for f in unsure)
        parts.append(f"Answered 'unsure' (treated as present until a clinician has checked): {names}.")
    parts.append("The exercise plan is withheld: do not start it until a doctor has assessed these symptoms.")
    return " ".join(parts)


def _clear_advice(kb: KnowledgeBase, case: Case, screened: str, not_asked: list[str]) -> str:
    painful = bool(case.of_kind("pain"))
    if screened == "complete":
        opening = "No red flags reported in screening." if painful or case.of_kind("red_flag") else ""
    elif screened == "none":
        opening = "Red flags not screened: no screening question was answered, so nothing here is known to be clear."
    else:
        opening = "Red flags partly screened."
    if painful or case.of_kind("diagnosis"):
        rest = (" A muscle-balance assessment and exercise plan are reasonable once screening is complete; see a "
                "clinician promptly if pain spreads, worsens, or new symptoms such as numbness or weakness appear.")
    else:
        rest = (" No pain reported: posture and muscle-balance exercise can be done as self-care; see a clinician "
                "if pain develops.")
    advice = opening + rest
    if not_asked:
        shown = ", ".join(in_sentence(kb.red_flags[f].label) for f in not_asked[:_SHOWN])
        more = f" and {len(not_asked) - _SHOWN} more (all are listed with the screening questions)" if len(not_asked) > _SHOWN else ""
        advice += f" Not yet asked, and worth asking for this pain: {shown}{more}."
    return advice.strip()


def _cluster_advice(kb: KnowledgeBase, clusters: list[str]) -> str:
    return " ".join(kb.criteria[c].advice or f"{kb.criteria[c].label}." for c in clusters)


def _level(kb: KnowledgeBase, alarming: list[str], clusters: list[str]) -> str:
    """The most severe level raised, never below urgent (only raised alarms come here)."""
    levels = [kb.red_flags[f].level for f in alarming] + [kb.criteria[c].alarm for c in clusters] + ["urgent"]
    return min(levels, key=lambda level: LEVEL_ORDER[level])


def triage(kb: KnowledgeBase, case: Case, clusters: tuple[str, ...] = ()) -> dict:
    """The triage block of a report.

    Keys: ``level`` (emergency | urgent | routine | self_care), ``red_flags`` (present or unsure,
    worst first), ``unsure`` (those answered unsure), ``review`` (review signs raised: they keep the
    plan), ``advice``, ``screened`` (none | partial |
    complete), ``not_screened`` (ids worth asking for these pain sites, not asked, worst first) and
    ``ask`` (the same with their questions and levels, for a page or an interview to ask), and
    ``general_screening`` (true when the list is the general one: no pain site had its own), and
    ``clusters``: the KB criteria met that raise an alarm (``clusters`` given by the run: red-flag
    clusters such as cancer with a new deficit), which set the level like a flag of theirs would."""
    answers = {e.id: e.value for e in case.of_kind("red_flag")}
    raised = [f for f, v in answers.items() if v in ALARMING]
    alarming = _by_severity(kb, [f for f in raised if kb.red_flags[f].level in ("emergency", "urgent")])
    review = _by_severity(kb, [f for f in raised if f not in alarming])
    unsure = [f for f in alarming if answers[f] == "unsure"]
    screened, not_asked, general = _screening(kb, case)
    ask = [{"id": f, "label": kb.red_flags[f].label, "question": kb.red_flags[f].question,
            "level": kb.red_flags[f].level} for f in not_asked]
    clusters_met = sorted(set(clusters), key=lambda c: (LEVEL_ORDER[kb.criteria[c].alarm], c))
    unmatched = case.unmatched_red_flags
    if alarming or clusters_met or unmatched:
        level, advice = _alarm(kb, alarming, unsure, clusters_met, unmatched)
    else:
        level = "routine" if case.of_kind("pain") or case.of_kind("diagnosis") else "self_care"
        advice = _clear_advice(kb, case, screened, not_asked)
    advice += _review_advice(kb, review, bool(clusters_met))
    return {"level": level, "red_flags": alarming, "unsure": unsure, "review": review, "advice": advice,
            "screened": screened, "not_screened": not_asked, "ask": ask,
            "general_screening": general, "clusters": clusters_met, "unmatched": [u.term for u in unmatched]}


def _alarm(kb: KnowledgeBase, alarming: list[str], unsure: list[str], clusters: list[str], unmatched) -> tuple[str, str]:
    """Level and advice when a flag, a red-flag cluster or an unmatched red-flag answer is raised."""
    level = _level(kb, alarming, clusters)  # at least urgent: an unmatched answer alone counts as urgent
    advice = _alarm_advice(kb, alarming, unsure, level)
    if clusters:
        advice = (_cluster_advice(kb, clusters) + " " + advice).strip()
    if unmatched:
        named = "; ".join(f"'{u.term}' ({u.where}, answered {u.answer})" for u in unmatched)
        advice = (f"Possible red flag not recognised: {named}. A clinician must review it before any exercise. "
                  + advice).strip()
    return level, advice


def _review_advice(kb: KnowledgeBase, review: list[str], in_cluster: bool) -> str:
    """What the triage says of review signs: monitored alone; named only when they met a cluster."""
    if not review:
        return ""
    names = ", ".join(in_sentence(kb.red_flags[f].label) for f in review)
    plural = "s" if len(review) > 1 else ""
    if in_cluster:  # "not specific on its own" would contradict the cluster they met
        return f" Review sign{plural} raised: {names}."
    return (f" Review sign{plural}: {names}. On its own this raises suspicion but is not specific (IFOMPT 2020): "
            "monitor it, ask the screening questions again at each visit, and refer if it persists, worsens or "
            "other warning signs appear.")
