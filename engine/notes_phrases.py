"""Sentence-level readings of a clinical note: age, sex, duration, onset, and red flags or history
said in other words than any KB name ("wakes her whatever position", "since doubling her mileage").

Each rule is a reading a clinician would make of any note, not of one note: a pattern over one
sentence, denied by a negation before it in its clause, doubted by a doubt word in its sentence.
"""

from __future__ import annotations

import re

__all__ = ["RELIEF", "context", "phrased_flags", "phrased_history", "sentences"]

_AGE = [
    re.compile(r"\b(\d{1,3})\s*(?:-?\s*(?:y/?o|yo|yr?s?\s*old|years?\s*old|year-old|yrs?)\b(?!\s*ago)|\s*(?=(?-i:[MF])\b))", re.I),
    re.compile(r"\b(?:aged|age)\s+(\d{1,3})\b", re.I),
    re.compile(r"\b(?:[MF]|(?i:male|female|man|woman)|Mrs?\.?\s+[A-Z]\w*|Ms\.?\s+[A-Z]\w*)\s*,\s*(\d{1,3})\b(?!\s*(?:/|%|kg|km|mm|cm|h\b|min|deg|x))"),
]
_SEX = [(re.compile(r"\b\d{1,3}\s*(?:y/?o|yo|yrs?\s*old|years?\s*old)?\s*(?:[rl]t?-handed\s+)?(?-i:F)\b|"
                    r"(?:^|[(,]\s*|,\s*|\bPt\W+)(?-i:F)\s*(?=[,)]\s*\d|,)|"
                    r"\b(?:female|woman|lady|girl|mrs|ms|she|her)\b", re.I), "female"),
        (re.compile(r"\b\d{1,3}\s*(?:y/?o|yo|yrs?\s*old|years?\s*old)?\s*(?:[rl]t?-handed\s+)?(?-i:M)\b|"
                    r"(?:^|[(,]\s*|,\s*|\bPt\W+)(?-i:M)\s*(?=[,)]\s*\d|,)|"
                    r"\b(?:male|man|gentleman|boy|mr|he|his)\b", re.I), "male")]
_DURATION = re.compile(r"x\s*(\d+)\s*/\s*(52|12|7)\b|(\d+)\s*(day|week|wk|month|mth|year|yr)s?\b", re.I)
_SUDDEN = re.compile(r"\b(sudden(ly)?|rolled|twisted|fell|fall|tackle|crash|collision|after lifting|acute onset|"
                     r"injured|injury)\b", re.I)
_GRADUAL = re.compile(r"\b(gradual(ly)?|insidious|no (?:known )?injury|no trauma|built up|over (?:weeks|months))\b",
                      re.I)
_SENTENCE = re.compile(r"[^.;\n]+")
_NEGATION = re.compile(r"\b(no|not|denies|denied|nil|without|never)\b")
_DOUBT = re.compile(r"\b(not sure|unsure|can'?t say|cannot say|unclear|uncertain|vague)\b|\?")
RELIEF = re.compile(r"\b(eases?|eased|relie\w+|settles?|turns? over|chang\w+ position|walks? (?:it off|about)|"
                     r"get up and walk|shak\w+)\b")

#: Red flags said in other words: (pattern over a sentence, flag).
_FLAG_PHRASES = [
    (r"\b(worse|wakes?|waking|woken|keeps? (?:him|her|them) awake|present)\b[^.;]{0,40}"
     r"\b(?:at|during the|in the|every|most|all) nights?\b|\bnight pain\b", "night_pain"),
    (r"\bnights?\b[^.;]{0,30}\bno position\b|\bwhatever position\b", "night_pain"),
    (r"\blost\s+\d+(?:\.\d+)?\s*(?:kg|kgs|lb|lbs|stone|st)\b|\b(?:clothes|trousers)[^.;]{0,20}looser", "unexplained_weight_loss"),
    (r"\bconstant\b[^.;]{0,40}\b(?:worse|worsening|progress\w*)", "constant_progressive_pain"),
    (r"\b(?:very|generally|systemically)\s+unwell\b|\boff (?:his|her|their) food\b", "feeling_very_unwell"),
    (r"\bnumb\w*[^.;]{0,25}\bdown there\b", "saddle_anaesthesia"),
    (r"\bhot\b[\s/,]*(?:and\s+)?(?:red\b[\s/,]*(?:and\s+)?)?swollen\b|\bswollen\b[\s/,]*(?:and\s+)?hot\b|"
     r"\b(?:heat|redness)\b[^.;]{0,15}\b(?:or|and)\b[^.;]{0,10}\b(?:redness|heat|swelling)\b", "hot_swollen_joint"),
    (r"\bjaw\b[^.;]{0,25}\b(?:aches?|pain|tires?)\b[^.;]{0,20}\bchew\w*[^.;]{0,60}"
     r"\b(?:eas\w+|settles?|rest|stops?)\b", "jaw_claudication"),
    (r"\b(?:bruis\w*|graze\w*)\b[^.;]{0,30}\b(?:spine|spinous|vertebra\w*|[TLC]\d+)\b", "bruise_or_graze_over_spine"),
    (r"\bnumb\w*[^.;]{0,60}\brapidly worse|\bnumb\w*[^.;]{0,60}\bgetting (?:rapidly |much )?worse\b[^.;]{0,20}"
     r"\bsince\b", "hand_numbness_after_wrist_injury"),
    (r"\bnot (?:changed|affected|altered|eased) by (?:position|movement)|\bnon-?mechanical\b", "non_mechanical_thoracic_pain"),
]
#: Phrase flags that belong to some regions only (by the note's pain sites).
_FLAG_REGIONS = {"non_mechanical_thoracic_pain": {"upper_back", "chest"}, "jaw_claudication": {"jaw", "head"},
                 "hand_numbness_after_wrist_injury": {"wrist_hand", "arm"}}
#: Night pain eased by a change of position (or walking it off) is not the flag: it is read as no.
_EASED_MEANS_NO = {"night_pain"}

#: History said in other words: (pattern over a sentence, history id).
_HISTORY_PHRASES = [
    (r"\b(?:doubl\w+|upp(?:ed|ing)|increas\w+|add(?:ed|ing)|going up|went up|up \d+ ?%|load up|started|starting|"
     r"ramp\w* up)\b[^.;]{0,40}\b(?:mileage|training|sessions?|km|miles|load|rounds|reps|volume|distance)\b|"
     r"\b(?:mileage|training|load|volume)\b[^.;]{0,10}\b(?:up|doubled|increased)\b", "recent_training_increase"),
    (r"\b(?:worse|pain\w*|aggravated|hurts|ache)\b[^.;]{0,50}\bsitting\b|\bsitting\b[^.;]{0,20}\b(?:worse|painful|"
     r"hurts|aggravates)\b|\bpain\b[^.;]{0,40}\bbending\b", "pain_worse_sitting_or_bending"),
    (r"\b(?:worse|pain\w*|aggravated|hurts|ache)\b[^.;]{0,40}\bsquat(?:s|ting)?\b", "squatting_aggravates"),
    (r"\bstiff\w*\b[^.;]{0,30}\b(?:mornings?|first thing|am)\b[^.;]{0,20}\b(?:~|about |under |<\s*)?"
     r"(?:[1-2]?\d) ?min", "activity_pain_brief_morning_stiffness"),
    (r"\bstiff\w*\b[^.;]{0,30}\b(?:mornings?|first thing|am)\b[^.;]{0,20}\b(?:over|more than|>)\s*(?:an hour|"
     r"\d+ ?(?:min|h))", "morning_stiffness_over_30_min"),
    (r"\b(?:leg|buttock)\b[^.;]{0,40}\bwalk\w*[^.;]{0,40}\b(?:relieved|eased|better)\b[^.;]{0,15}"
     r"\b(?:sitting|bending|leaning)\b", "neurogenic_claudication"),
    (r"\b(?:fhx|family history|father|mother|brother|sister|son|daughter)\b[^.;]{0,40}\b(?:ankylosing spondylitis|"
     r"spondyloarthritis|psoriatic arthritis|AS)\b", "family_history_spondyloarthritis"),
    (r"\b(?:sits?|sitting|seated|driv\w+)\b[^.;]{0,15}\b\d+\s*(?:h|hrs?|hours)\b|\bat a desk\b", "prolonged_sitting"),
    (r"\b(?:on (?:her|his|my|their) feet all day)\b", "prolonged_standing"),
    (r"\bshak\w+ (?:the |her |his |my )?hands?\b[^.;]{0,30}\b(?:relie\w+|eas\w+|better)", "hand_shaking_relieves"),
]


def sentences(text: str):
    """The sentences of a note (split at full stops, semicolons and line ends) as regex matches."""
    return _SENTENCE.finditer(text)


def _region_ok(flag: str, regions: set[str]) -> bool:
    wanted = _FLAG_REGIONS.get(flag)
    return wanted is None or not regions or bool(wanted & regions)


def _answer(sentence: str, found: re.Match, flag: str) -> object:
    clause_start = max(sentence.rfind(",", 0, found.start()), sentence.rfind(":", 0, found.start())) + 1
    before = sentence[clause_start:found.start()]
    if _DOUBT.search(sentence):
        return "unsure"
    if _NEGATION.search(before) or re.match(r"[^.;]{0,20}?:\s*(?:no|nil|none|absent|normal)\b", sentence[found.end():]):
        return False  # "no heat or redness", "Hot/swollen elbow: no"
    if flag in _EASED_MEANS_NO and RELIEF.search(sentence[found.start():]):
        return False
    return True


def phrased_flags(text: str, known: set[str], flags, regions: set[str]) -> list[dict]:
    """Red flags said in other words (see ``_FLAG_PHRASES``), unless ``known`` already has them."""
    out = []
    for sentence in (m.group(0).lower() for m in sentences(text)):
        for pattern, flag in _FLAG_PHRASES:
            found = re.search(pattern, sentence)
            if not found or flag in known or flag not in flags or not _region_ok(flag, regions):
                continue
            out.append({"id": flag, "present": _answer(sentence, found, flag)})
            known.add(flag)
    return out


def phrased_history(text: str, known: set[str], history) -> list[dict]:
    """History items said in other words (see ``_HISTORY_PHRASES``); negated in their clause, absent."""
    out = []
    for sentence in (m.group(0).lower() for m in sentences(text)):
        for pattern, item in _HISTORY_PHRASES:
            found = re.search(pattern, sentence)
            if not found or item in known or item not in history or _eased(item, found.group(0)):
                continue
            clause_start = sentence.rfind(",", 0, found.start()) + 1
            present = not _NEGATION.search(sentence[clause_start:found.start()])
            out.append({"id": item, "present": present})
            known.add(item)
    return out


def _eased(item: str, said: str) -> bool:
    """Sitting that eases the pain is not sitting that aggravates it ("relieved by sitting")."""
    return item == "pain_worse_sitting_or_bending" and bool(re.search(r"\b(relieved|eased|eases|better)\b", said))


def _weeks(match: re.Match) -> int:
    if match.group(1):
        n, unit = int(match.group(1)), match.group(2)
        return n if unit == "52" else round(n * 52 / 12) if unit == "12" else round(n / 7)
    n, unit = int(match.group(3)), match.group(4).lower()
    if unit == "day":
        return round(n / 7)
    if unit in ("month", "mth"):
        return round(n * 52 / 12)
    return n * 52 if unit in ("year", "yr") else n


def _age(text: str) -> int | None:
    for pattern in _AGE:
        for found in pattern.finditer(text):
            if 0 < int(found.group(1)) <= 110:
                return int(found.group(1))
    return None


def context(text: str) -> dict[str, object]:
    """Age, sex, duration (weeks) and onset of a note, where it says them."""
    out: dict[str, object] = {}
    age = _age(text)
    if age is not None:
        out["age"] = age
    for pattern, sex in _SEX:
        if pattern.search(text):
            out["sex"] = sex
            break
    duration = _DURATION.search(text)
    if duration:
        out["duration_weeks"] = _weeks(duration)
    if _SUDDEN.search(text):
        out["onset"] = "sudden"
    elif _GRADUAL.search(text):
        out["onset"] = "gradual"
    return out
