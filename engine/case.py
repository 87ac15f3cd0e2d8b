"""Parse and validate a consultation case (dict, YAML/JSON file, or command-line flags).

The case contract (DESIGN.md)::

    pain:      [{site, side}] or ["lateral_knee"]
    findings:  [{id, side, present}] or ["anterior_pelvic_tilt"]   (present unless present: false)
    tests:     [{id, result: positive|negative, side}]             (or "ober_test:positive:right")
    red_flags: [{id, present: true|false|"unsure"}]                 (unlisted = not asked)
    history:   ["runner"]
    diagnoses: ["spondylolisthesis"]
    age: 38   sex: female | male   onset: sudden | gradual   duration_weeks: 6

The shape (types, allowed values, unknown fields; no coercion) is checked by the one pydantic model
of :mod:`compensa.engine.case_schema`; this module resolves the terms against the KB vocabulary.
Every problem is collected and raised together as :class:`~compensa.errors.CaseError`, each naming
the field path (``tests[1].result``), the bad value and the closest known ids. Nothing here raises
anything else for bad input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from pathlib import Path

from compensa.engine.case_schema import CONTEXT_FIELDS, ITEM_FIELDS, MAX_ITEMS, SECTIONS, CaseInput, validate_shape
from compensa.errors import CaseError, Problem
from compensa.kb.yamlsource import load_case_file_data
from compensa.kb.vocabulary import Vocabulary

__all__ = ["RAISING", "Case", "Context", "EvidenceItem", "Unrecognised", "onset_history", "MAX_ITEMS", "case_from_flags", "parse_case", "read_case_file"]

_KIND_WORD = {"pain": "pain site", "finding": "finding", "test": "test", "red_flag": "red flag",
              "yellow_flag": "yellow flag",
              "history": "history item", "diagnosis": "diagnosis (condition)"}
_SECTION_OF = {v: k for k, v in SECTIONS.items()}


@dataclass(frozen=True, slots=True, order=True)
class EvidenceItem:
    """One piece of evidence: kind, KB id, side (``left``/``right``/``""``) and value."""

    kind: str
    id: str
    side: str
    value: str

    def fact(self) -> dict[str, str]:
        """The working-memory ``Evidence`` fact for this item."""
        return {"kind": self.kind, "id": self.id, "side": self.side, "value": self.value}

    def to_dict(self) -> dict[str, str]:
        out = {"kind": self.kind, "id": self.id, "value": self.value}
        if self.side:
            out["side"] = self.side
        return out


@dataclass(frozen=True, slots=True)
class Context:
    """The person and the story: age, sex, onset and duration (each ``None`` when not given)."""

    age: int | None = None
    sex: str | None = None
    onset: str | None = None
    duration_weeks: int | None = None
    date: str | None = None  # when assessed (ISO); read by visit comparison, not by rules

    def facts(self) -> list[dict[str, str]]:
        """Evidence facts the criteria read: ``age``/``years`` (value: the number as text) and ``sex``/<sex>."""
        out = []
        if self.age is not None:
            out.append({"kind": "age", "id": "years", "side": "", "value": str(self.age)})
        if self.sex:
            out.append({"kind": "sex", "id": self.sex, "side": "", "value": "present"})
        return out

    def to_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in CONTEXT_FIELDS if getattr(self, k) is not None}


def onset_history(onset: str | None) -> str:
    """The history item a case's ``onset`` is read as (``gradual`` -> ``gradual_onset``)."""
    return f"{onset}_onset" if onset else ""


@dataclass(frozen=True, slots=True)
class Unrecognised:
    """A term the KB does not know: what was written, where (field path), and ids of the same kind."""

    term: str
    where: str
    kind: str
    suggestions: tuple[str, ...]
    answer: str = ""        # the answer given with it (present, unsure, absent, positive...)
    red_flag: bool = False  # a red-flag answer, or a term that reads like one: never dropped

    def to_dict(self) -> dict[str, object]:
        return {"term": self.term, "where": self.where, "suggestions": list(self.suggestions)}


#: Answers that, given with an unmatched red flag, withhold the plan (yes, unsure, a positive test).
RAISING = ("present", "unsure", "positive")


@dataclass(frozen=True, slots=True)
class Case:
    """A validated case: evidence items in canonical (sorted) order, the context, name and notes, and
    the terms that were not understood (lenient mode)."""

    evidence: tuple[EvidenceItem, ...]
    name: str = ""
    notes: str = ""
    context: Context = Context()
    unrecognised: tuple[Unrecognised, ...] = ()

    @property
    def unmatched_red_flags(self) -> tuple[Unrecognised, ...]:
        """Unknown terms that are (or read like) red flags answered yes or unsure: they withhold the plan."""
        return tuple(u for u in self.unrecognised if u.red_flag and u.answer in RAISING)

    def facts(self) -> list[dict[str, str]]:
        """Every working-memory ``Evidence`` fact of the case (items, then context)."""
        return [e.fact() for e in self.evidence] + self.context.facts()

    def of_kind(self, kind: str) -> tuple[EvidenceItem, ...]:
        return tuple(e for e in self.evidence if e.kind == kind)

    def to_dict(self) -> dict[str, object]:
        """The case in canonical contract form (ids, explicit sides and results)."""
        out: dict[str, object] = {}
        from_onset = onset_history(self.context.onset)
        for section, kind in SECTIONS.items():
            items = []
            for e in self.of_kind(kind):
                if kind == "history" and e.id == from_onset:
                    continue  # echoed as `onset`
                item: dict[str, object]
                if kind == "pain":
                    item = {"site": e.id}
                elif kind == "test":
                    item = {"id": e.id, "result": e.value}
                elif kind in ("finding", "red_flag", "history", "yellow_flag"):
                    item = {"id": e.id, "present": "unsure" if e.value == "unsure" else e.value == "present"}
                else:
                    item = {"id": e.id}
                if e.side:
                    item["side"] = e.side
                items.append(item)
            if items:
                out[section] = items
        out.update(self.context.to_dict())
        if self.name:
            out["name"] = self.name
        return out


class _Resolver:
    """Turn a shape-checked :class:`CaseInput` into evidence: resolve terms, expand sides, find contradictions.

    Strict: an unknown term is a problem (the case is refused). Lenient (the default): it is kept
    as :class:`Unrecognised` and the consultation runs on the rest; a red-flag answer that cannot be
    matched, or an unknown term anywhere that reads like a red flag, is marked so it withholds the plan."""

    def __init__(self, vocab: Vocabulary, strict: bool = False):
        self.vocab = vocab
        self.strict = strict
        self.unrecognised: list[Unrecognised] = []
        self.problems: list[Problem] = []
        self.items: dict[tuple[str, str, str], tuple[str, str]] = {}  # (kind, id, side) -> (value, path)

    def term(self, kind: str, text: str, path: str, answer: str = "") -> str | None:
        found = self.vocab.resolve(kind, text)
        if found:
            return found
        if not self.strict:
            self.unrecognised.append(self._unknown(kind, text, path, answer))
            return None
        elsewhere = self.vocab.other_kinds(kind, text)
        if elsewhere:
            where = " or ".join(f"'{_SECTION_OF[k]}'" for k in elsewhere)
            self.problems.append(Problem(f"{text!r} is not a {_KIND_WORD[kind]}: it belongs under {where}", path, text))
        else:
            self.problems.append(Problem(f"unknown {_KIND_WORD[kind]} {text!r}", path, text,
                                         self.vocab.suggest(kind, text)))
        return None

    def _unknown(self, kind: str, text: str, path: str, answer: str) -> Unrecognised:
        elsewhere = self.vocab.other_kinds(kind, text)
        suggestions = tuple(f"{_SECTION_OF[k]}: {self.vocab.resolve(k, text)}" for k in elsewhere) or \
            self.vocab.suggest(kind, text)
        red_flag = kind == "red_flag" or self.vocab.resembles_red_flag(text)
        return Unrecognised(text, path, kind, suggestions, answer, red_flag)

    def add(self, kind: str, id_: str, sides: tuple[str, ...], value: str, path: str) -> None:
        for side in sides:
            key = (kind, id_, side)
            old = self.items.get(key)
            if old and old[0] != value:
                self.problems.append(Problem(f"contradicts {old[1]}: {id_} is both {old[0]} and {value}"
                                             + (f" on the {side} side" if side else ""), path, value))
                continue
            self.items[key] = (value, path)

    def item(self, section: str, kind: str, item: Any, path: str) -> None:
        if isinstance(item, str):  # a plain name (shorthand with colons is expanded by the schema)
            term, side, value = item, None, "present"
        else:
            term = getattr(item, "site", None) or item.id
            side = getattr(item, "side", None)
            value = _value(kind, item)
        field = ITEM_FIELDS[section][0]
        id_ = self.term(kind, term, path if isinstance(item, str) else f"{path}.{field}", value)
        if id_ is None:
            return
        if kind == "test" and isinstance(item, str):
            self.problems.append(Problem(f"test {id_!r} needs a result: positive or negative", f"{path}.result"))
            return
        self.add(kind, id_, _SIDE_EXPANSION[side], value, path)

    def case(self, shape: CaseInput, problems: list[Problem]) -> Case:
        self.problems.extend(problems)
        for section, kind in SECTIONS.items():
            for index, item in enumerate(getattr(shape, section)):
                self.item(section, kind, item, f"{section}[{index}]")
        history = onset_history(shape.onset)
        if history and history in self.vocab.kb.history:  # a KB without the item still reads the onset field
            self.add("history", history, ("",), "present", "onset")
        if self.problems:
            raise CaseError(self.problems)
        evidence = tuple(sorted(EvidenceItem(k, i, s, v) for (k, i, s), (v, _) in self.items.items()))
        context = Context(shape.age, shape.sex, shape.onset, shape.duration_weeks, shape.date)
        return Case(evidence, shape.name or "", shape.notes or "", context, tuple(self.unrecognised))


_SIDE_EXPANSION = {None: ("",), "left": ("left",), "right": ("right",), "both": ("left", "right")}


def _value(kind: str, item: Any) -> str:
    if kind == "test":
        return item.result
    present = getattr(item, "present", True)
    if present == "unsure":
        return "unsure"
    return "present" if present else "absent"


def parse_case(data: object, vocab: Vocabulary, strict: bool = False) -> Case:
    """Validate ``data`` (the case contract) into a :class:`Case`; raise CaseError on any problem.

    The one validator of the case contract: the library, the command line and the HTTP service all
    call it, so the same input is accepted or refused the same way everywhere. Shapes are always
    strict (an unknown field is refused); an unknown *term* is refused only when ``strict`` (or the
    case's own ``strict: true``), and otherwise listed in :attr:`Case.unrecognised`."""
    shape, problems = validate_shape(data)
    return _Resolver(vocab, strict or bool(shape.strict)).case(shape, problems)


def read_case_file(path: str | Path) -> object:
    """Read a YAML or JSON case file, bounded (size, nesting, aliases; regular files only) and read
    without YAML 1.1's yes/no booleans; any problem is a CaseError naming the file (and line)."""
    return load_case_file_data(path)


def case_from_flags(pain=(), findings=(), tests=(), red_flags=(), no_red_flags=(), history=(), diagnoses=(),
                    unsure_red_flags=()) -> dict:
    """Build a case dict from command-line style strings (``lateral_knee:right``, ``ober_test:positive:right``)."""
    case: dict[str, list] = {}
    if pain:
        case["pain"] = list(pain)
    if findings:
        case["findings"] = [({"id": f[1:], "present": False} if f.startswith("!") else f) for f in findings]
    if tests:
        case["tests"] = list(tests)
    flags = ([{"id": f, "present": True} for f in red_flags] + [{"id": f, "present": False} for f in no_red_flags]
             + [{"id": f, "present": "unsure"} for f in unsure_red_flags])
    if flags:
        case["red_flags"] = flags
    if history:
        case["history"] = list(history)
    if diagnoses:
        case["diagnoses"] = list(diagnoses)
    return case


