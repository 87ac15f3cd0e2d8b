"""The shape of every knowledge-base entry, and the checker that enforces it.

Each section (``muscles``, ``links``, ...) has a spec: field name -> :class:`FieldSpec`. The checker
reports unknown keys (with the closest valid key), missing required fields and wrong types, all as
``file:line:col`` problems, and returns clean Python values for the model to use.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from compensa.errors import Problem, closest
from compensa.kb.yamlsource import Location, MarkedDict, MarkedList

__all__ = ["EVIDENCE_CAPS", "ID_PATTERN", "KEY_FIELDS", "SECTIONS", "FieldSpec", "check_entry"]

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

#: The largest strength each evidence grade allows (see kb/README.md).
EVIDENCE_CAPS = {"H": 0.9, "M": 0.7, "L": 0.4}

_TYPE_NAMES = {bool: "true/false", int: "a whole number", float: "a number", str: "text",
               list: "a list", dict: "a mapping", type(None): "nothing (null)"}


def _describe(value: object) -> str:
    for kind, name in _TYPE_NAMES.items():
        if type(value) is kind or (kind is dict and isinstance(value, dict)) or (kind is list and isinstance(value, list)):
            return name if not isinstance(value, (bool,)) else f"{name} {str(value).lower()}"
    return type(value).__name__


@dataclass(frozen=True)
class FieldSpec:
    """One field: a converter that returns the clean value or raises ``ValueError(reason)``."""

    convert: Callable[[object, Location | None, list[Problem]], object]
    required: bool = True
    default: object = None


def _text(value, at, problems):
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        hint = " (quote it: YAML reads yes/no/on/off as true/false)" if isinstance(value, bool) else ""
        raise ValueError(f"expected text, got {_describe(value)}{hint}")
    text = str(value).strip()
    if not text:
        raise ValueError("must not be empty")
    return text


def _optional_text(value, at, problems):
    if value is None:
        return ""
    return _text(value, at, problems)


def _id(value, at, problems):
    text = _text(value, at, problems)
    if not ID_PATTERN.match(text):
        raise ValueError(f"id {text!r} is not snake_case (lower-case letters, digits and _; starting with a letter)")
    return text


def _list_of(item, what: str):
    """A converter for a list whose items are converted by ``item`` (bad items are reported one by one)."""
    def convert(value, at, problems):
        if value is None:
            return ()
        if not isinstance(value, list):
            raise ValueError(f"expected a list of {what}s, got {_describe(value)}")
        out = []
        for index, entry in enumerate(value):
            try:
                out.append(item(entry, at, problems))
            except ValueError as exc:
                where = value.where(index) if isinstance(value, MarkedList) else at
                problems.append(Problem(f"{what} {index + 1}: {exc}", str(where)))
        return tuple(out)
    return convert


_ids = _list_of(_id, "id")
_aliases = _list_of(_text, "name")


def _bool(value, at, problems):
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {_describe(value)}")
    return value


def _number(value, at, problems):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"expected a number, got {_describe(value)}")
    return float(value)


def _count(value, at, problems):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected a whole number of at least 1, got {_describe(value)}")
    return value


def _startback_item(value, at, problems):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 9:
        raise ValueError(f"expected the STarT Back item number, 1 to 9, got {_describe(value)}")
    return value


def _age(value, at, problems):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 130:
        raise ValueError(f"expected a whole number of years (0-130), got {_describe(value)}")
    return value


def _codes(value, at, problems):
    """``{snomed: ..., icd10: ...}``: known systems, each code well formed (see :mod:`compensa.kb.codes`)."""
    from compensa.kb.codes import SYSTEMS, code_problem

    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping of code system to code ({', '.join(SYSTEMS)}), got {_describe(value)}")
    out = {}
    for system, code in value.items():
        if system not in SYSTEMS:
            raise ValueError(f"unknown code system {system!r} (use {', '.join(SYSTEMS)})")
        if isinstance(code, int) and not isinstance(code, bool) and system == "snomed":
            code = str(code)  # YAML reads an unquoted SNOMED id as a number
        if not isinstance(code, str) or not code.strip():
            raise ValueError(f"{system} code must be text, got {_describe(code)}")
        reason = code_problem(system, code.strip())
        if reason:
            raise ValueError(f"{system} code {code!r}: {reason}")
        out[system] = code.strip()
    return out


def _enum(*allowed: str):
    def convert(value, at, problems):
        text = _text(value, at, problems)
        if text not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}, got {text!r}")
        return text
    return convert


_evidence = _enum("H", "M", "L")


def _nested_list(spec_name: str):
    def convert(value, at, problems):
        if value is None:
            return ()
        if not isinstance(value, list):
            raise ValueError(f"expected a list, got {_describe(value)}")
        out = []
        for index, item in enumerate(value):
            where = value.where(index) if isinstance(value, MarkedList) else at
            entry = check_entry(item, spec_name, where, problems)
            if entry is not None:
                out.append(entry)
        return tuple(out)
    return convert


_FALLBACK = {_text: "", _optional_text: "", _id: "", _ids: (), _aliases: (), _bool: False, _number: 0.0}


def F(convert, required: bool = True, default: object = None) -> FieldSpec:
    if required and default is None:
        default = _FALLBACK.get(convert, "")
    return FieldSpec(convert, required, default)


#: Fields that identify an entry: when one of these is unusable, the whole entry is dropped.
KEY_FIELDS = frozenset({"id", "from", "to", "site", "muscle", "node", "kind"})


SECTIONS: dict[str, dict[str, FieldSpec]] = {
    "kb": {"name": F(_id), "version": F(_text), "regions": F(_ids), "description": F(_optional_text, False, "")},
    "sources": {"id": F(_id), "citation": F(_text), "url": F(_text),
                "kind": F(_enum("guideline", "review", "trial", "observational", "textbook", "practitioner", "seed")),
                "note": F(_optional_text, False, "")},
    "muscles": {"id": F(_id), "label": F(_text), "aliases": F(_aliases, False, ()), "region": F(_id),
                "sites": F(_ids, False, ()), "action": F(_text), "tendency": F(_enum("tight", "weak", "either")),
                "opposes": F(_ids, False, ()), "source": F(_id), "codes": F(_codes, False, {})},
    "interventions": {"id": F(_id), "muscle": F(_id), "action": F(_enum("stretch", "strengthen")),
                      "label": F(_text), "how": F(_text), "dose": F(_optional_text, False, ""), "source": F(_id),
                      "avoid_with": F(_ids, False, ()), "caution": F(_optional_text, False, ""),
                      # dosage and progression are sourced separately from the exercise itself
                      "dose_source": F(_id, False, ""), "progression": F(_optional_text, False, ""),
                      "progression_source": F(_id, False, "")},
    "pain_sites": {"id": F(_id), "label": F(_text), "aliases": F(_aliases, False, ()), "region": F(_id),
                   "screen": F(_ids, False, ()), "codes": F(_codes, False, {})},
    "roots": {"id": F(_id), "label": F(_text), "aliases": F(_aliases, False, ()),
              "kind": F(_enum("muscular", "structural"), False, "muscular"), "sided": F(_bool, False, False),
              "tight": F(_ids, False, ()), "weak": F(_ids, False, ()), "member_strength": F(_number),
              "evidence": F(_evidence), "summary": F(_text), "source": F(_id)},
    "dysfunctions": {"id": F(_id), "label": F(_text), "aliases": F(_aliases, False, ()), "region": F(_id),
                     "sided": F(_bool, False, False), "summary": F(_text), "source": F(_id),
                     "codes": F(_codes, False, {})},
    "conditions": {"id": F(_id), "label": F(_text), "aliases": F(_aliases, False, ()),
                   "codes": F(_codes, False, {}), "sided": F(_bool, False, False),
                   "medical": F(_bool, False, False), "from_imbalance": F(_bool, False, True),
                   "loading_first": F(_bool, False, False), "summary": F(_text), "source": F(_id),
                   "sites": F(_nested_list("site"))},
    "site": {"site": F(_id), "strength": F(_number), "evidence": F(_evidence)},
    "links": {"from": F(_id), "to": F(_id), "strength": F(_number), "evidence": F(_evidence),
              "mechanism": F(_text), "source": F(_id)},
    "assessments": {"id": F(_id), "label": F(_text), "aliases": F(_aliases, False, ()),
                    "kind": F(_enum("finding", "test")), "region": F(_id), "sided": F(_bool, False, False),
                    "how": F(_text), "reading": F(_text), "source": F(_id), "codes": F(_codes, False, {}),
                    "on_positive": F(_nested_list("effect"), False, ()), "on_negative": F(_nested_list("effect"), False, ()),
                    "on_present": F(_nested_list("effect"), False, ()), "on_absent": F(_nested_list("effect"), False, ())},
    "effect": {"node": F(_id, False), "muscle": F(_id, False), "state": F(_enum("tight", "weak"), False),
               "strength": F(_number), "evidence": F(_evidence)},
    "history": {"id": F(_id), "label": F(_text), "aliases": F(_aliases, False, ()),
                "on_present": F(_nested_list("effect")), "source": F(_id)},
    "criteria": {"id": F(_id), "label": F(_text), "aliases": F(_aliases, False, ()),
                 "all_of": F(_nested_list("member"), False, ()),
                 "need": F(_count, False, 0), "of": F(_nested_list("member"), False, ()),
                 "none_of": F(_nested_list("member"), False, ()), "same_side": F(_bool, False, False),
                 "supports": F(_nested_list("effect"), False, ()),
                 "alarm": F(_enum("emergency", "urgent"), False, ""), "advice": F(_optional_text, False, ""),
                 "mechanism": F(_text), "source": F(_id)},
    "member": {"test": F(_id, False), "finding": F(_id, False), "pain": F(_id, False), "history": F(_id, False),
               "red_flag": F(_id, False), "diagnosis": F(_id, False),
               "result": F(_enum("positive", "negative"), False, ""), "present": F(_bool, False, True),
               "age_at_least": F(_age, False, -1), "age_below": F(_age, False, -1),
               "sex": F(_enum("female", "male"), False, ""), "onset": F(_enum("sudden", "gradual"), False, "")},
    "yellow_flags": {"id": F(_id), "label": F(_text), "aliases": F(_aliases, False, ()), "question": F(_text),
                     "startback_item": F(_startback_item, False, 0), "psychosocial": F(_bool, False, False),
                     "from_pain": F(_ids, False, ()), "advice": F(_optional_text, False, ""), "source": F(_id)},
    "red_flags": {"id": F(_id), "label": F(_text), "aliases": F(_aliases, False, ()), "question": F(_text),
                  "category": F(_id), "level": F(_enum("emergency", "urgent", "review")), "advice": F(_text), "source": F(_id),
                  "codes": F(_codes, False, {})},
}

_WHAT = {"site": "site", "effect": "effect", "kb": "kb", "member": "criterion member", "criteria": "criterion"}


def check_entry(raw: object, section: str, at: Location | None, problems: list[Problem]) -> dict | None:
    """Check one entry of ``section``; return its clean fields (plus ``at``) or ``None`` if unusable.

    Problems are appended to ``problems``; an entry with a bad optional field is still returned
    (with the field's default) so later checks can run on it.
    """
    spec = SECTIONS[section]
    name = _WHAT.get(section, section.rstrip("s").replace("_", " ") if section != "history" else "history item")
    if not isinstance(raw, dict):
        problems.append(Problem(f"each {name} entry must be a mapping of fields, got {_describe(raw)}", str(at)))
        return None
    start = raw.at if isinstance(raw, MarkedDict) and raw.at else at
    label = f"{name} {raw.get('id')!r}" if isinstance(raw.get("id"), str) else name
    field_at: dict[str, Location | None] = {}
    failed: set[str] = set()
    clean: dict[str, object] = {"at": start, "_where": field_at, "_failed": failed}
    usable = True
    for key in raw:
        if key not in spec:
            where = raw.where(key) if isinstance(raw, MarkedDict) else start
            problems.append(Problem(f"unknown key {key!r} in {label}", str(where), key,
                                    closest(str(key), spec.keys(), 1)))
    for field_name, field_spec in spec.items():
        if field_name not in raw or raw[field_name] is None and field_spec.required:
            if field_spec.required:
                problems.append(Problem(f"{label} is missing required field {field_name!r}", str(start)))
                failed.add(field_name)
                usable = usable and field_name not in KEY_FIELDS
            clean[field_name] = field_spec.default
            continue
        where = raw.where(field_name) if isinstance(raw, MarkedDict) else start
        field_at[field_name] = where
        try:
            clean[field_name] = field_spec.convert(raw[field_name], where, problems)
        except ValueError as exc:
            problems.append(Problem(f"{label}: field {field_name!r} {exc}", str(where), raw[field_name]))
            failed.add(field_name)
            if field_spec.required and field_name in KEY_FIELDS:
                usable = False
            clean[field_name] = field_spec.default
    return clean if usable else None
