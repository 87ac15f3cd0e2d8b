"""The intake as a FHIR R4 Questionnaire (``compensa-intake``), generated from the KB, and the way back.

``GET /fhir/Questionnaire/compensa-intake`` serves :func:`intake_questionnaire`. Its groups:

* ``red_flags`` -- a group per level (``red_flags_emergency``, ``red_flags_urgent``,
  ``red_flags_review``, in that order) of one ``choice`` item per red flag, answers yes | no |
  unsure (:data:`~compensa.app.fhir_case.ANSWER_SYSTEM`);
* ``pain`` -- one ``choice`` item per pain site (``repeats``), answered with the side: SNOMED CT
  laterality 7771000 left, 24028007 right, 51440002 both (codes.md 1b), or ``present`` (central, or
  the side does not apply);
* ``findings`` -- one ``choice`` item per visual finding: a side (sided findings), ``yes`` or ``no``
  (sided: also ``no-left`` | ``no-right`` | ``no-both``, looked for there and absent);
* ``tests`` -- one ``choice`` item per physical test: ``positive`` | ``negative``, or for a sided
  test ``positive-left`` ... ``negative-both`` (``repeats``: left and right may differ);
* ``about`` -- ``age`` (integer) and ``sex`` (administrative gender female | male).

Item ``linkId`` values are KB ids (groups aside), and each item's ``code`` carries the KB id in
:data:`~compensa.app.fhir_case.KB_SYSTEM` plus the entry's standard codes, so an answered
QuestionnaireResponse maps back to a case (:func:`case_from_questionnaire_response`). An answer
to an item that is not in the KB is kept as a term of its group's section (so the report lists it
in ``unrecognised``, and a red-flag one answered yes or unsure withholds the plan); an answer to a
red flag that cannot be read counts as unsure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from compensa.app.fhir_case import ANSWER_SYSTEM, KB_SYSTEM, LATERALITY, SNOMED, SYSTEMS, validate_resource
from compensa.errors import CaseError, Problem

__all__ = ["QUESTIONNAIRE_ID", "QUESTIONNAIRE_URL", "case_from_body_if_fhir", "case_from_questionnaire_response",
           "intake_questionnaire", "items_from_questionnaire_response", "questionnaire_response_from_case"]

QUESTIONNAIRE_ID = "compensa-intake"
#: The Questionnaire's canonical URL (stable whatever address the service is reached at).
QUESTIONNAIRE_URL = "https://compensa.dev/fhir/Questionnaire/compensa-intake"
_LEVEL_ORDER = {"emergency": 0, "urgent": 1, "review": 2}
_LEVEL_TITLES = {"emergency": "Emergency signs (any yes or unsure: emergency care now)",
                 "urgent": "Urgent signs (any yes or unsure: prompt medical assessment)",
                 "review": "Review signs (monitor and re-screen; some together escalate)"}
_SIDE_CODES = {"left": "7771000", "right": "24028007", "both": "51440002"}  # codes.md 1b (eHDSI/DICOM pair)
_GENDER = "http://hl7.org/fhir/administrative-gender"
_GROUPS = {"red_flags": "red_flags", "pain": "pain", "findings": "findings", "tests": "tests"}
_ANSWER_LABEL = {"yes": "Yes", "no": "No", "unsure": "Unsure", "present": "Yes (central, or the side does not apply)",
                 "positive": "Positive", "negative": "Negative"}


def _answer(code: str, display: str | None = None) -> dict:
    return {"valueCoding": {"system": ANSWER_SYSTEM, "code": code, "display": display or _ANSWER_LABEL[code]}}


def _side(side: str) -> dict:
    return {"valueCoding": {"system": SNOMED, "code": _SIDE_CODES[side], "display": side.capitalize()}}


def _codes(id_: str, label: str, codes: Any) -> list[dict]:
    out = [{"system": KB_SYSTEM, "code": id_, "display": label}]
    for system, key in SYSTEMS.items():
        if codes and codes.get(key):
            out.append({"system": system, "code": codes[key]})
    return out


def intake_questionnaire(kb) -> dict:
    """The intake Questionnaire (FHIR R4 JSON) for ``kb``; it validates with fhir.resources R4B."""
    flags = sorted(kb.red_flags.values(), key=lambda f: _LEVEL_ORDER.get(f.level, 3))
    red = []
    for level, title in _LEVEL_TITLES.items():
        items = [{"linkId": f.id, "text": f.question, "type": "choice", "code": _codes(f.id, f.label, f.codes),
                  "answerOption": [_answer("yes"), _answer("no"), _answer("unsure")]} for f in flags if f.level == level]
        if items:
            red.append({"linkId": f"red_flags_{level}", "type": "group", "text": title, "item": items})
    pain = [{"linkId": p.id, "text": p.label, "type": "choice", "repeats": True, "code": _codes(p.id, p.label, p.codes),
             "answerOption": [_side("left"), _side("right"), _side("both"), _answer("present")]}
            for p in kb.pain_sites.values()]
    findings, tests = [], []
    for a in kb.assessments.values():
        code = _codes(a.id, a.label, a.codes)
        if a.kind == "finding":
            options = ([_side("left"), _side("right"), _side("both")] if a.sided else []) + [
                _answer("yes", "Yes (present)" if not a.sided else "Yes (side not noted)"), _answer("no")] + (
                [_answer(f"no-{s}", f"No, {s}") for s in ("left", "right", "both")] if a.sided else [])
            findings.append({"linkId": a.id, "text": a.label, "type": "choice", "repeats": a.sided, "code": code,
                             "answerOption": options})
        else:
            if a.sided:
                options = [_answer(f"{r}-{s}", f"{r.capitalize()}, {s}") for r in ("positive", "negative")
                           for s in ("left", "right", "both")]
            else:
                options = [_answer("positive"), _answer("negative")]
            tests.append({"linkId": a.id, "text": a.label, "type": "choice", "repeats": a.sided, "code": code,
                          "answerOption": options})
    about = [{"linkId": "age", "text": "Age in whole years", "type": "integer"},
             {"linkId": "sex", "text": "Sex", "type": "choice",
              "answerOption": [{"valueCoding": {"system": _GENDER, "code": "female", "display": "Female"}},
                               {"valueCoding": {"system": _GENDER, "code": "male", "display": "Male"}}]}]
    return {
        "resourceType": "Questionnaire", "id": QUESTIONNAIRE_ID, "url": QUESTIONNAIRE_URL,
        "version": kb.version_string, "name": "CompensaIntake", "title": "compensa musculoskeletal intake",
        "status": "active", "subjectType": ["Patient"],
        "description": "Red-flag screening first, then where it hurts, what is seen and the physical tests. "
                       "Item linkIds are compensa KB ids. Decision support, not a diagnosis.",
        "item": [
            {"linkId": "red_flags", "type": "group", "text": "Red flags (ask these first; emergencies first)",
             "item": red},
            {"linkId": "pain", "type": "group", "text": "Where it hurts", "item": pain},
            {"linkId": "findings", "type": "group", "text": "What is seen (posture and movement)", "item": findings},
            {"linkId": "tests", "type": "group", "text": "Physical tests (strength tests: positive = weakness found)",
             "item": tests},
            {"linkId": "about", "type": "group", "text": "About the person", "item": about},
        ],
    }


def _red_flag_answer(item: dict) -> dict:
    """A case red flag as an answer: yes, no or unsure."""
    present = item.get("present", True)
    return _answer("unsure" if present == "unsure" else "yes" if present else "no")


def _pain_answer(item: dict) -> dict:
    """A case pain as an answer: its side, or present (central, or no side)."""
    return _side(item["side"]) if item.get("side") else _answer("present")


def _finding_answer(item: dict) -> dict:
    """A case finding as an answer: its side or yes when present; no (or no on a side) when absent."""
    if item.get("present", True) is False:
        return _answer(f"no-{item['side']}", f"No, {item['side']}") if item.get("side") else _answer("no")
    return _side(item["side"]) if item.get("side") else _answer("yes")


def _test_answer(item: dict) -> dict:
    """A case test as an answer: its result, with its side when it has one."""
    code = item["result"] + (f"-{item['side']}" if item.get("side") else "")
    return _answer(code, code)


#: For each case section with intake items: the key of an item's linkId, and how the item is answered.
_ANSWERED: dict[str, tuple[str, Callable[[dict], dict]]] = {
    "red_flags": ("id", _red_flag_answer), "pain": ("site", _pain_answer),
    "findings": ("id", _finding_answer), "tests": ("id", _test_answer)}


@dataclass
class _ResponseItems:
    """The answered items of a QuestionnaireResponse by group, each linkId once, each answer once."""

    groups: dict[str, list[dict]] = field(default_factory=lambda: {
        "red_flags": [], "pain": [], "findings": [], "tests": [], "about": []})
    answers: dict[tuple[str, str], list[dict]] = field(default_factory=dict)

    def add(self, group: str, link_id: str, answer: dict) -> None:
        """Answer item ``link_id`` of ``group`` with ``answer`` (an answer already given is not repeated)."""
        if (group, link_id) not in self.answers:
            self.answers[(group, link_id)] = []
            self.groups[group].append({"linkId": link_id, "answer": self.answers[(group, link_id)]})
        if answer not in self.answers[(group, link_id)]:
            self.answers[(group, link_id)].append(answer)


def _nested_red_flags(flags: list[dict], kb) -> list[dict]:
    """The red-flag items in a group per level, in level order; an item that is not a KB red flag
    stays directly in the red-flag group."""
    def level(item: dict) -> str | None:
        flag = kb.red_flags.get(item["linkId"])
        return flag.level if flag is not None and flag.level in _LEVEL_TITLES else None

    nested: list[dict] = [{"linkId": f"red_flags_{name}", "item": [i for i in flags if level(i) == name]}
                          for name in _LEVEL_TITLES if any(level(i) == name for i in flags)]
    nested += [i for i in flags if level(i) is None]  # not a KB red flag: directly in the group
    return nested


def questionnaire_response_from_case(case: dict, kb, patient_id: str | None = None) -> dict:
    """An intake QuestionnaireResponse answering what a canonical case (``Case.to_dict()``) holds:
    pain, findings, tests, red flags, age and sex (other sections have no intake item)."""
    response = _ResponseItems()
    for section, (key, answer_of) in _ANSWERED.items():
        for item in case.get(section, []):
            response.add(section, item[key], answer_of(item))
    if isinstance(case.get("age"), int):
        response.add("about", "age", {"valueInteger": case["age"]})
    if case.get("sex") in ("female", "male"):
        response.add("about", "sex", {"valueCoding": {"system": _GENDER, "code": case["sex"]}})
    groups = response.groups
    nested = _nested_red_flags(groups.pop("red_flags"), kb)
    out: dict[str, Any] = {"resourceType": "QuestionnaireResponse", "status": "completed",
                           "questionnaire": QUESTIONNAIRE_URL,
                           "item": ([{"linkId": "red_flags", "item": nested}] if nested else [])
                           + [{"linkId": g, "item": items} for g, items in groups.items() if items]}
    if patient_id:
        out["subject"] = {"reference": f"Patient/{patient_id}"}
    return out


# -------------------------------------------------------------------------------------- the way back

def _words(answer: dict) -> list[str]:
    """An answer as lower-case words: a coding's code (sides from SNOMED laterality), a string, a boolean."""
    if isinstance(answer.get("valueCoding"), dict):
        c = answer["valueCoding"]
        if c.get("system") == SNOMED and c.get("code") in LATERALITY:
            return [LATERALITY[c["code"]]]
        return [str(c.get("code", "")).lower()]
    if isinstance(answer.get("valueString"), str):
        return [answer["valueString"].strip().lower()]
    if isinstance(answer.get("valueBoolean"), bool):
        return ["yes" if answer["valueBoolean"] else "no"]
    return []


def _kinds_of(kb, link_id: str) -> list[str]:
    """The sections ``link_id`` is a KB id of (red flags first)."""
    kinds = []
    if link_id in kb.red_flags:
        kinds.append("red_flags")
    if link_id in kb.pain_sites:
        kinds.append("pain")
    if link_id in kb.assessments:
        kinds.append("findings" if kb.assessments[link_id].kind == "finding" else "tests")
    return kinds


def _kind_of(kb, link_id: str) -> str | None:
    kinds = _kinds_of(kb, link_id)
    return kinds[0] if kinds else None


def _section_for(kb, link_id: str, group: str | None, text: object) -> tuple[str, str]:
    """The section an answered item is read in, and the term it is read as.

    A KB id is read as what it is, whatever group holds it (a red flag under ``pain`` is still a red
    flag: read as a pain site, its yes or unsure was lost); the group decides only between kinds
    sharing the id. An unknown linkId is a term of its group's section (``history`` outside the
    groups), or a red flag named by the item's ``text`` when that text reads like one."""
    kinds = _kinds_of(kb, link_id)
    if kinds:
        return (group if group in kinds else kinds[0]), link_id
    from compensa.app.fhir_case import _prepared

    vocab, _ = _prepared(kb)
    if isinstance(text, str) and text.strip() and vocab.resembles_red_flag(text):
        return "red_flags", text.strip()[:200]
    if group is None or group == "about":
        return "history", link_id  # not an item compensa knows: kept as a term, so the report lists it
    return group, link_id


def _read(section: str, link_id: str, word: str, sided: bool) -> dict | None:
    """One answer word as a case item of ``section`` (None: the answer cannot be read)."""
    if section == "red_flags":
        value = {"yes": True, "true": True, "no": False, "false": False, "unsure": "unsure",
                 "unknown": "unsure"}.get(word)
        return {"id": link_id, "present": value if value is not None else "unsure"}  # unreadable: unsure
    if section == "pain":
        if word in ("left", "right", "both"):
            return {"site": link_id, "side": word}
        return {"site": link_id} if word in ("present", "yes", "true") else None
    if section in ("findings", "history"):
        if word in ("left", "right", "both"):
            return {"id": link_id, "side": word, "present": True}
        if word in ("yes", "present", "true"):
            return {"id": link_id, "present": True}
        no, _, side = word.partition("-")
        if no == "no" and side in ("left", "right", "both"):
            return {"id": link_id, "side": side, "present": False}
        return {"id": link_id, "present": False} if word in ("no", "absent", "false") else None
    if section == "tests":
        result, _, side = word.partition("-")
        if result in ("positive", "negative") and side in ("", "left", "right", "both"):
            return {"id": link_id, "result": result, **({"side": side} if side else {})}
        return None
    return None


def items_from_questionnaire_response(qr: dict, kb) -> tuple[list[tuple[str, dict]], dict, list[tuple[str, str]]]:
    """The case items ``[(section, item)]``, context ``{age, sex}`` and unmapped ``[(linkId, why)]`` of
    an (already validated) QuestionnaireResponse."""
    items: list[tuple[str, dict]] = []
    context: dict[str, object] = {}
    unmapped: list[tuple[str, str]] = []

    def walk(nodes: object, group: str | None) -> None:
        for node in nodes if isinstance(nodes, list) else []:
            if not isinstance(node, dict) or not isinstance(node.get("linkId"), str):
                continue
            link_id = node["linkId"]
            answers = [a for a in node.get("answer") or [] if isinstance(a, dict)]
            if link_id in _GROUPS or link_id == "about":
                walk(node.get("item"), _GROUPS.get(link_id, "about"))
                continue
            for a in answers:
                walk(a.get("item"), group)
            walk(node.get("item"), group)
            if answers:
                one(link_id, answers, group, node.get("text"))

    def one(link_id: str, answers: list[dict], group: str | None, text: object = None) -> None:
        if link_id == "age" and group in ("about", None):
            value = answers[0].get("valueInteger")
            if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 130:
                context["age"] = value
            else:
                unmapped.append((link_id, "age must be a whole number of years, 0-130"))
            return
        if link_id == "sex" and group in ("about", None):
            word = (_words(answers[0]) or [""])[0]
            if word in ("female", "male"):
                context["sex"] = word
            else:
                unmapped.append((link_id, "compensa reads sex as female or male only"))
            return
        section, term = _section_for(kb, link_id, group, text)
        sided = bool(section in ("findings", "tests") and link_id in kb.assessments and kb.assessments[link_id].sided)
        for a in answers:
            words = _words(a)
            item = _read(section, term, words[0], sided) if words else (
                {"id": term, "present": "unsure"} if section == "red_flags" else None)
            if item is None:
                unmapped.append((link_id, f"the answer {a!r} cannot be read for a {section} item"[:300]))
            else:
                items.append((section, item))

    walk(qr.get("item"), None)
    return items, context, unmapped


def _validation_problems(resource: dict) -> list[Problem]:
    """fhir.resources' validation errors of ``resource`` as problems at their field paths
    (``item[2].item[0].answer``), so a 422 names where the resource is wrong."""
    from pydantic import ValidationError

    from fhir.resources.R4B import get_fhir_model_class

    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False)[:10]:
            parts = [p for p in error.get("loc", ()) if p not in ("root",)]
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")
            problems.append(Problem(f"invalid FHIR R4 QuestionnaireResponse: {error.get('msg', '')}", where))
        return problems
    except Exception:  # noqa: BLE001 - odd input fhir.resources trips on: the caller's one-line message
        return []
    return []


def case_from_questionnaire_response(qr: dict, kb) -> tuple[dict, list[dict]]:
    """The case an answered intake QuestionnaireResponse gives, and what could not be mapped
    (``[{resource, what, why}]``). An invalid resource is a CaseError (422) naming the problem."""
    from compensa.app.fhir_case import _Reader
    import datetime

    if not isinstance(qr, dict) or qr.get("resourceType") != "QuestionnaireResponse":
        raise CaseError(Problem("expected a FHIR QuestionnaireResponse", "resourceType",
                                qr.get("resourceType") if isinstance(qr, dict) else None))
    problem = validate_resource(qr)
    if problem:
        raise CaseError(_validation_problems(qr) or [Problem(problem, "")])
    reader = _Reader(kb, None, datetime.date.today())
    reader.questionnaire_response(qr, "QuestionnaireResponse")
    case = reader.case()
    return case, [n.to_dict() for n in reader.out.not_used]


def case_from_body_if_fhir(body: object, kb) -> dict | None:
    """For ``POST /v1/consult``: the case of a FHIR QuestionnaireResponse body (told apart by
    ``resourceType``), or ``None`` when the body is a compensa case. Another FHIR resource is a
    CaseError. Unknown items are kept as terms, so the report lists them in ``unrecognised``."""
    if not isinstance(body, dict) or "resourceType" not in body:
        return None
    if body.get("resourceType") != "QuestionnaireResponse":
        raise CaseError(Problem("POST /v1/consult takes a compensa case or a FHIR QuestionnaireResponse "
                                f"(answers to {QUESTIONNAIRE_URL})", "resourceType", body.get("resourceType")))
    if body.get("status") == "entered-in-error":  # read, it would be an empty case shown as self-care
        raise CaseError(Problem("this QuestionnaireResponse is marked entered-in-error: there are no answers to "
                                "consult", "status", body.get("status")))
    case, unmapped = case_from_questionnaire_response(body, kb)
    for entry in unmapped:  # answers that could not be read: kept visible as terms
        case.setdefault("history", []).append({"id": f"{entry['what']} (unreadable answer)"[:200], "present": True})
    return case
