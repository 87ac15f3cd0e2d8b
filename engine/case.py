"""Parse and validate a consultation case (dict, YAML/JSON file, or command-line flags).

The case contract (DESIGN.md)::

    pain:      [{site, side}] or ["lateral_knee"]
    findings:  [{id, side, present}] or ["anterior_pelvic_tilt"]   (present unless present: false)
    tests:     [{id, result: positive|negative, side}]             (or "ober_test:positive:right")
    red_flags: [{id, present}]                                      (unlisted = not asked)
    history:   ["runner"]
    diagnoses: ["spondylolisthesis"]

Every problem is collected and raised together as :class:`~compensa.errors.CaseError`, each naming
the field path (``tests[1].result``), the bad value and the closest known ids. Nothing here raises
anything else for bad input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from compensa.errors import CaseError, Problem, closest
from compensa.kb.yamlsource import read_yaml
from compensa.kb.vocabulary import Vocabulary

__all__ = ["Case", "EvidenceItem", "MAX_ITEMS", "case_from_flags", "parse_case", "read_case_file"]

#: The most items one case section may hold (more is refused, not truncated).
MAX_ITEMS = 100
_MAX_TEXT = 200

SECTIONS = {
    "pain": "pain", "findings": "finding", "tests": "test", "red_flags": "red_flag",
    "history": "history", "diagnoses": "diagnosis",
}
_META = ("name", "notes")
_SIDES = {"left": ("left",), "l": ("left",), "right": ("right",), "r": ("right",),
          "both": ("left", "right"), "bilateral": ("left", "right"), "": ("",), "none": ("",), "central": ("",)}
_RESULTS = {"positive": "positive", "pos": "positive", "+": "positive", "negative": "negative",
            "neg": "negative", "-": "negative"}
_KIND_WORD = {"pain": "pain site", "finding": "finding", "test": "test", "red_flag": "red flag",
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
class Case:
    """A validated case: evidence items in canonical (sorted) order, plus optional name and notes."""

    evidence: tuple[EvidenceItem, ...]
    name: str = ""
    notes: str = ""

    def of_kind(self, kind: str) -> tuple[EvidenceItem, ...]:
        return tuple(e for e in self.evidence if e.kind == kind)

    def to_dict(self) -> dict[str, object]:
        """The case in canonical contract form (ids, explicit sides and results)."""
        out: dict[str, object] = {}
        for section, kind in SECTIONS.items():
            items = []
            for e in self.of_kind(kind):
                if kind == "pain":
                    item = {"site": e.id}
                elif kind == "test":
                    item = {"id": e.id, "result": e.value}
                elif kind in ("finding", "red_flag", "history"):
                    item = {"id": e.id, "present": e.value in ("present", "positive")}
                else:
                    item = {"id": e.id}
                if e.side:
                    item["side"] = e.side
                items.append(item)
            if items:
                out[section] = items
        if self.name:
            out["name"] = self.name
        return out


class _Parser:
    def __init__(self, vocab: Vocabulary):
        self.vocab = vocab
        self.problems: list[Problem] = []
        self.items: dict[tuple[str, str, str], tuple[str, str]] = {}  # (kind, id, side) -> (value, path)

    def problem(self, path: str, message: str, value: object = None, suggestions=()) -> None:
        self.problems.append(Problem(message, path, value if _jsonable(value) else repr(value), tuple(suggestions)))

    def text(self, value: object, path: str) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.problem(path, f"expected text, got {type(value).__name__}", value)
            return None
        text = str(value)
        if not _encodable(text):
            self.problem(path, "contains characters that are not valid text (unpaired surrogates)", text.encode("utf-8", "replace").decode())
            return None
        if len(text) > _MAX_TEXT:
            self.problem(path, f"text longer than {_MAX_TEXT} characters", text[:40] + "...")
            return None
        return text

    def term(self, kind: str, value: object, path: str) -> str | None:
        text = self.text(value, path)
        if text is None:
            return None
        found = self.vocab.resolve(kind, text)
        if found:
            return found
        elsewhere = self.vocab.other_kinds(kind, text)
        if elsewhere:
            where = " or ".join(f"'{_SECTION_OF[k]}'" for k in elsewhere)
            self.problem(path, f"{text!r} is not a {_KIND_WORD[kind]}: it belongs under {where}", text)
        else:
            self.problem(path, f"unknown {_KIND_WORD[kind]} {text!r}", text, self.vocab.suggest(kind, text))
        return None

    def sides(self, value: object, path: str) -> tuple[str, ...] | None:
        if value is None:
            return ("",)
        if not isinstance(value, str) or value.strip().lower() not in _SIDES:
            self.problem(path, "side must be left, right or both", value, closest(str(value), ["left", "right", "both"]))
            return None
        return _SIDES[value.strip().lower()]

    def flag(self, value: object, path: str) -> bool | None:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("yes", "true", "present", "no", "false", "absent"):
            return value.strip().lower() in ("yes", "true", "present")
        self.problem(path, "present must be true or false", value)
        return None

    def add(self, kind: str, id_: str, sides: tuple[str, ...], value: str, path: str) -> None:
        for side in sides:
            key = (kind, id_, side)
            old = self.items.get(key)
            if old and old[0] != value:
                self.problem(path, f"contradicts {old[1]}: {id_} is both {old[0]} and {value}"
                             + (f" on the {side} side" if side else ""), value)
                continue
            self.items[key] = (value, path)

    def shorthand(self, text: str) -> list[str]:
        return [part.strip() for part in text.split(":")]

    def item(self, section: str, kind: str, raw: object, path: str) -> None:
        keys = {"pain": ("site", "side"), "finding": ("id", "side", "present"), "test": ("id", "result", "side"),
                "red_flag": ("id", "present"), "history": ("id", "present"), "diagnosis": ("id", "side")}[kind]
        if isinstance(raw, str):
            parts = self.shorthand(raw)
            if kind == "test":
                raw = {"id": parts[0]}
                if len(parts) > 1:
                    raw["result"] = parts[1]
                if len(parts) > 2:
                    raw["side"] = parts[2]
                if len(parts) > 3:
                    self.problem(path, "test shorthand is id:result:side", raw)
                    return
            elif kind in ("pain", "finding", "diagnosis") and len(parts) == 2:
                raw = {keys[0]: parts[0], "side": parts[1]}
            elif len(parts) > 1 and kind in ("pain", "finding", "diagnosis"):
                self.problem(path, f"{_KIND_WORD[kind]} shorthand is id:side", raw)
                return
            else:
                raw = {keys[0]: raw}
        if not isinstance(raw, dict):
            self.problem(path, f"each {_KIND_WORD[kind]} must be a name or a mapping with {', '.join(keys)}",
                         raw if _jsonable(raw) else repr(raw))
            return
        for key in raw:
            if key not in keys:
                self.problem(f"{path}.{key}", f"unknown field {key!r}", key, closest(str(key), keys, 1))
        id_key = keys[0]
        if id_key not in raw:
            self.problem(f"{path}.{id_key}", f"missing {id_key!r}")
            return
        id_ = self.term(kind, raw[id_key], f"{path}.{id_key}")
        sides = self.sides(raw.get("side"), f"{path}.side")
        if id_ is None or sides is None:
            return
        if kind == "test":
            if "result" not in raw:
                self.problem(f"{path}.result", f"test {id_!r} needs a result: positive or negative")
                return
            result = raw["result"]
            value = _RESULTS.get(str(result).strip().lower()) if isinstance(result, str) else None
            if value is None:
                self.problem(f"{path}.result", "result must be positive or negative", result,
                             closest(str(result), ["positive", "negative"], 1))
                return
        elif kind in ("finding", "red_flag", "history"):
            present = self.flag(raw.get("present", True), f"{path}.present")
            if present is None:
                return
            value = "present" if present else "absent"
        else:
            value = "present"
        self.add(kind, id_, sides, value, path)

    def case(self, data: object) -> Case:
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.problem("", f"a case must be a mapping with sections {', '.join(SECTIONS)}", None)
            raise CaseError(self.problems)
        for key in data:
            if key not in SECTIONS and key not in _META:
                self.problem(str(key), f"unknown case section {key!r}", key,
                             closest(str(key), list(SECTIONS) + list(_META), 2))
        for section, kind in SECTIONS.items():
            body = data.get(section)
            if body is None:
                continue
            if isinstance(body, (str, dict)):
                body = [body]
            if not isinstance(body, list):
                self.problem(section, "must be a list", body if _jsonable(body) else repr(body))
                continue
            if len(body) > MAX_ITEMS:
                self.problem(section, f"too many items ({len(body)}; at most {MAX_ITEMS})")
                continue
            for index, raw in enumerate(body):
                self.item(section, kind, raw, f"{section}[{index}]")
        name = data.get("name") or ""
        notes = data.get("notes") or ""
        for field, value in (("name", name), ("notes", notes)):
            if not isinstance(value, str):
                self.problem(field, "must be text", value if _jsonable(value) else repr(value))
            elif not _encodable(value):
                self.problem(field, "contains characters that are not valid text (unpaired surrogates)")
            elif len(value) > 2000:
                self.problem(field, "longer than 2000 characters")
        if self.problems:
            raise CaseError(self.problems)
        evidence = tuple(sorted(EvidenceItem(k, i, s, v) for (k, i, s), (v, _) in self.items.items()))
        return Case(evidence, name if isinstance(name, str) else "", notes if isinstance(notes, str) else "")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _jsonable(value: object) -> bool:
    try:
        json.dumps(value, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError, RecursionError):
        return False
    return True


def parse_case(data: object, vocab: Vocabulary) -> Case:
    """Validate ``data`` (the case contract) into a :class:`Case`; raise CaseError on any problem."""
    return _Parser(vocab).case(data)


def read_case_file(path: str | Path) -> object:
    """Read a YAML or JSON case file; a missing file or a syntax error is a CaseError with file:line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseError(Problem(f"cannot read case file: {exc.strerror if isinstance(exc, OSError) else exc}",
                                str(path))) from exc
    if not text.strip():
        return {}
    data, problems = read_yaml(text, str(path))
    if problems:  # syntax errors, and duplicate keys (a second red_flags: would hide the first)
        raise CaseError([Problem(p.message.replace("YAML syntax error", "not valid YAML or JSON")
                                 .replace("YAML error", "not valid YAML or JSON"), p.where) for p in problems])
    return data


def case_from_flags(pain=(), findings=(), tests=(), red_flags=(), no_red_flags=(), history=(), diagnoses=()) -> dict:
    """Build a case dict from command-line style strings (``lateral_knee:right``, ``ober_test:positive:right``)."""
    case: dict[str, list] = {}
    if pain:
        case["pain"] = list(pain)
    if findings:
        case["findings"] = [({"id": f[1:], "present": False} if f.startswith("!") else f) for f in findings]
    if tests:
        case["tests"] = list(tests)
    flags = [{"id": f, "present": True} for f in red_flags] + [{"id": f, "present": False} for f in no_red_flags]
    if flags:
        case["red_flags"] = flags
    if history:
        case["history"] = list(history)
    if diagnoses:
        case["diagnoses"] = list(diagnoses)
    return case


