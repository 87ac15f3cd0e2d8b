"""The shape of a consultation case: one strict pydantic model for the library, the CLI and HTTP.

This module checks *shapes* only — types, allowed values, list lengths, unknown fields — with no
coercion: booleans are booleans (``present: "n"`` or ``0`` is refused, never read as false), ``result``
is ``positive`` or ``negative``, ``side`` is ``left``, ``right`` or ``both``. Knowledge-base terms
(pain sites, tests, ...) are checked afterwards by :mod:`compensa.engine.case`, which resolves
readable names and suggests the closest ids. The same model gives the JSON Schema served in the
OpenAPI document, so the documentation describes what is really accepted.

A string item is shorthand: ``"lateral_knee:right"`` for ``{site: lateral_knee, side: right}`` and
``"ober_test:positive:right"`` for ``{id: ober_test, result: positive, side: right}``.
"""

# No ``from __future__ import annotations`` here: pydantic would have to evaluate every annotation
# from its text when it builds the models (a few ms of every cold start).
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (
    AfterValidator, BaseModel, ConfigDict, Discriminator, Field, PlainValidator, StrictInt, StrictStr,
    Tag, ValidationError, field_validator,
)
from pydantic_core import PydanticCustomError

from compensa.errors import Problem, closest

__all__ = [
    "CONTEXT_FIELDS", "CaseInput", "FIELDS", "ITEM_FIELDS", "MAX_ITEMS", "MAX_NOTE", "MAX_TERM", "SECTIONS", "SIDES",
    "case_json_schema", "problems_from_validation", "validate_shape",
]

#: The most items one case section may hold (more is refused, not truncated).
MAX_ITEMS = 100
#: The longest term (an id or a readable name), in characters.
MAX_TERM = 200
#: The longest free-text field (``name``, ``notes``), in characters.
MAX_NOTE = 2000
#: The sides a case may name; ``both`` stands for left and right.
SIDES = ("left", "right", "both")
_RESULTS = ("positive", "negative")

#: Case section -> evidence kind.
SECTIONS = {"pain": "pain", "findings": "finding", "tests": "test", "red_flags": "red_flag",
            "yellow_flags": "yellow_flag", "history": "history", "diagnoses": "diagnosis"}
#: Case section -> the fields of one of its items, the term field first.
ITEM_FIELDS = {"pain": ("site", "side"), "findings": ("id", "side", "present"), "tests": ("id", "result", "side"),
               "red_flags": ("id", "present"), "yellow_flags": ("id", "present"), "history": ("id", "present"),
               "diagnoses": ("id", "side")}
#: The person and the story: scalar fields of a case (read by criteria; onset also as history).
CONTEXT_FIELDS = ("age", "sex", "onset", "duration_weeks", "date")
#: Every top-level field of a case.
FIELDS = (*SECTIONS, *CONTEXT_FIELDS, "name", "notes", "strict", "text")
_SHORTHAND_FIELDS = {"pain": ("site", "side"), "findings": ("id", "side"), "tests": ("id", "result", "side"),
                     "red_flags": ("id",), "yellow_flags": ("id",), "history": ("id",), "diagnoses": ("id", "side")}
_KIND_WORD = {"pain": "pain site", "findings": "finding", "tests": "test", "red_flags": "red flag",
              "yellow_flags": "yellow flag",
              "history": "history item", "diagnoses": "diagnosis"}


def _iso_date(text: str) -> str:
    """An ISO calendar date (``2026-12-01``), kept as the string given."""
    import datetime

    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        raise ValueError("date must be an ISO date, YYYY-MM-DD (e.g. 2026-12-01)") from None
    if len(text) != 10:
        raise ValueError("date must be an ISO date, YYYY-MM-DD (e.g. 2026-12-01)")
    return text


def _valid_text(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("surrogates", "contains characters that are not valid text (unpaired surrogates)") from None
    return text


def _present(value: object) -> bool | str:
    if isinstance(value, bool) or value == "unsure":
        return value
    raise PydanticCustomError("present", "present must be true, false or 'unsure'")


def _present_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise PydanticCustomError("present", "present must be true or false")


Term = Annotated[StrictStr, Field(min_length=1, max_length=MAX_TERM), AfterValidator(_valid_text)]
Note = Annotated[StrictStr, Field(max_length=MAX_NOTE), AfterValidator(_valid_text)]
Side = Optional[Literal["left", "right", "both"]]
RedFlagPresence = Annotated[Union[bool, Literal["unsure"]], PlainValidator(
    _present, json_schema_input_type=Union[bool, Literal["unsure"]])]
Presence = Annotated[bool, PlainValidator(_present_bool, json_schema_input_type=bool)]


class _Item(BaseModel):
    # defer_build: an item model is only ever validated inside CaseInput, which builds its own validator
    # for them; building each one on its own as well only cost import time (it is built on first use).
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class PainItem(_Item):
    site: Term = Field(description="Pain site id or readable name, e.g. lateral_knee or 'outer knee'.",
                       examples=["lateral_knee"])
    side: Side = Field(None, description="left, right or both; omit when central or unknown.")


class FindingItem(_Item):
    id: Term = Field(description="Visual finding id or name.", examples=["knee_valgus"])
    side: Side = None
    present: Presence = Field(True, description="false records that it was looked for and is absent.")


class TestItem(_Item):
    id: Term = Field(description="Physical test id or name.", examples=["ober_test"])
    result: Literal["positive", "negative"] = Field(description="For strength tests, positive means weakness found.")
    side: Side = None


class RedFlagItem(_Item):
    id: Term = Field(description="Red-flag id or name.", examples=["saddle_anaesthesia"])
    present: RedFlagPresence = Field(True, description="true, false (asked and denied) or 'unsure' (counts as "
                                                       "present for safety). Unlisted flags count as not asked.")


class YellowFlagItem(_Item):
    id: Term = Field(description="Yellow-flag (psychosocial) id or name.", examples=["fear_avoidance"])
    present: Presence = Field(True, description="false: asked and answered no. Yellow flags never withhold the plan.")


class HistoryItem(_Item):
    id: Term = Field(examples=["runner"])
    present: Presence = True


class DiagnosisItem(_Item):
    id: Term = Field(description="A condition already diagnosed.", examples=["spondylolisthesis"])
    side: Side = None


def _no_items() -> list:
    """An empty section (the default): a plain function, as pydantic reads a default factory's signature
    and that of the built-in ``list`` is slow to get (``inspect`` tokenises its text signature)."""
    return []


def _branch(value: Any) -> str:
    return "name" if isinstance(value, str) else "mapping"


def _items(model: type[BaseModel], shorthand: str) -> Any:
    colons = shorthand.split(" or ")[-1].count(":")
    pattern = r"^[^:]*" + (rf"(:[^:]*){{0,{colons}}}$" if colons else "$")
    named = Annotated[StrictStr, Field(max_length=MAX_TERM, pattern=pattern), Tag("name"),
                      Field(description=f"Shorthand: {shorthand}")]
    return list[Annotated[Union[named, Annotated[model, Tag("mapping")]], Discriminator(_branch)]]  # type: ignore[valid-type]


_MODELS = {"pain": PainItem, "findings": FindingItem, "tests": TestItem, "red_flags": RedFlagItem,
           "yellow_flags": YellowFlagItem,
           "history": HistoryItem, "diagnoses": DiagnosisItem}

CASE_EXAMPLE: dict[str, Any] = {
    "pain": [{"site": "lateral_knee", "side": "right"}],
    "findings": [{"id": "knee_valgus", "side": "right"}],
    "tests": [{"id": "ober_test", "result": "positive", "side": "right"},
              {"id": "trendelenburg", "result": "positive", "side": "right"}],
    "red_flags": [{"id": "saddle_anaesthesia", "present": False}],
    "history": ["runner"],
}


class CaseInput(BaseModel):
    """A consultation case (DESIGN.md contract). Ids are KB ids or readable names; see
    ``GET /v1/kb/vocabulary`` for every id with its label and aliases."""

    model_config = ConfigDict(extra="forbid", strict=True, title="Case",
                              json_schema_extra={"examples": [CASE_EXAMPLE]})

    pain: _items(PainItem, "site or site:side") = Field(  # type: ignore[valid-type]
        default_factory=_no_items, max_length=MAX_ITEMS, description="Where it hurts.")
    findings: _items(FindingItem, "id or id:side") = Field(  # type: ignore[valid-type]
        default_factory=_no_items, max_length=MAX_ITEMS, description="What is seen (present unless present: false).")
    tests: _items(TestItem, "id:result or id:result:side") = Field(  # type: ignore[valid-type]
        default_factory=_no_items, max_length=MAX_ITEMS, description="Physical tests and their results.")
    red_flags: _items(RedFlagItem, "id (present)") = Field(  # type: ignore[valid-type]
        default_factory=_no_items, max_length=MAX_ITEMS, description="Screening answers; unlisted = not asked.")
    yellow_flags: _items(YellowFlagItem, "id") = Field(  # type: ignore[valid-type]
        default_factory=_no_items, max_length=MAX_ITEMS, description="Psychosocial screening answers (STarT Back items...).")
    history: _items(HistoryItem, "id") = Field(  # type: ignore[valid-type]
        default_factory=_no_items, max_length=MAX_ITEMS, description="Context: activities, habits, prior injuries.")
    diagnoses: _items(DiagnosisItem, "id or id:side") = Field(  # type: ignore[valid-type]
        default_factory=_no_items, max_length=MAX_ITEMS, description="Conditions already diagnosed.")
    age: Optional[StrictInt] = Field(None, ge=0, le=130, description="Age in whole years.", examples=[38])
    sex: Optional[Literal["female", "male"]] = Field(None, description="female or male.")
    onset: Optional[Literal["sudden", "gradual"]] = Field(
        None, description="sudden: an injury from one event (a rolled ankle); gradual: built up over months.")
    duration_weeks: Optional[StrictInt] = Field(None, ge=0, le=5200, description="How long it has hurt, in weeks.")
    date: Optional[Annotated[StrictStr, AfterValidator(_iso_date)]] = Field(
        None, description="When the person was assessed, an ISO date (YYYY-MM-DD): visits are compared in order.",
        examples=["2026-12-01"])
    text: Optional[Annotated[StrictStr, Field(max_length=20_000), AfterValidator(_valid_text)]] = Field(
        None, description="A clinical note, parsed into the case (structured fields win, except a red flag the "
                          "note answers yes or unsure).", examples=["R lateral knee pain, Ober +ve R, no numbness"])
    strict: Optional[bool] = Field(None, description="true: refuse an unknown term instead of listing it in "
                                                     "the report's unrecognised (for programs that want that).")
    name: Optional[Note] = Field(None, description="A label for the case (echoed, not used).")
    notes: Optional[Note] = Field(None, description="Free text (never logged, not used).")

    @field_validator(*SECTIONS, mode="before")
    @classmethod
    def _expand_shorthand(cls, value: object, info) -> object:
        """``"ober_test:positive:right"`` -> ``{id, result, side}``; other values pass unchanged."""
        if not isinstance(value, list):
            return value
        return [_expand(info.field_name, item) for item in value]


def _expand(section: str, item: object) -> object:
    if not isinstance(item, str) or len(item) > MAX_TERM:
        return item
    parts = [p.strip() for p in item.split(":")]
    fields = _SHORTHAND_FIELDS[section]
    if len(parts) > len(fields):
        return item  # refused by the shorthand pattern or length, with the shorthand's form in the message
    return dict(zip(fields, parts))


def validate_shape(data: object) -> tuple[CaseInput, list[Problem]]:
    """Check the shape of a raw case: the model, and every shape problem.

    When some parts are malformed the model holds the well-formed rest (items with a problem, or in
    a malformed section, are left out), so the caller can still report unknown terms in it: every
    problem of a case is reported at once."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return CaseInput(), [Problem(f"a case must be a mapping with sections {', '.join(SECTIONS)}", "")]
    try:
        return CaseInput.model_validate(data, strict=True), []
    except ValidationError as exc:
        problems = problems_from_validation(exc, data)
    return _well_formed_part(data, {p.where for p in problems}), problems


def _well_formed_part(data: dict, bad: set[str]) -> CaseInput:
    kept: dict[str, object] = {k: data[k] for k in CONTEXT_FIELDS if k in data and k not in bad}
    for section in SECTIONS:
        items = data.get(section)
        if section in bad or not isinstance(items, list):
            continue
        kept[section] = [item for index, item in enumerate(items)
                         if not any(w == f"{section}[{index}]" or w.startswith(f"{section}[{index}].") for w in bad)]
    try:
        return CaseInput.model_validate(kept, strict=True)
    except ValidationError:  # pragma: no cover - every bad item was removed above
        return CaseInput()


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


Wording = tuple[str, tuple[str, ...]]


def _unknown_field(error: Any, loc: tuple, data: dict) -> Wording:
    field, section = str(loc[-1]), str(loc[0])
    known = ITEM_FIELDS.get(section, ()) if len(loc) > 1 else FIELDS
    what = "field" if len(loc) > 1 else "case section"
    return f"unknown {what} {field!r}", closest(field, known, 2)


def _missing(error: Any, loc: tuple, data: dict) -> Wording:
    field = str(loc[-1])
    if field != "result":
        return f"missing {field!r}", ()
    test = _term_at(data, loc)
    return (f"test {test!r} needs a result: positive or negative" if test else "missing 'result'"), ()


def _not_an_item(error: Any, loc: tuple) -> Wording:
    section = str(loc[0])
    fields = ", ".join(ITEM_FIELDS.get(section, ()))
    return f"each {_KIND_WORD.get(section, 'item')} must be a name or a mapping with {fields}", ()


#: pydantic error type -> our wording (the error, its location).
_BY_KIND: dict[str, Any] = {
    "model_type": _not_an_item, "model_attributes_type": _not_an_item, "dict_type": _not_an_item,
    "string_pattern_mismatch": lambda e, loc: (
        f"{_KIND_WORD[str(loc[0])]} shorthand is {':'.join(_SHORTHAND_FIELDS[str(loc[0])])}", ()),
    "list_type": lambda e, loc: ("must be a list", ()),
    "too_long": lambda e, loc: (
        f"too many items ({len(e['input']) if isinstance(e.get('input'), list) else '?'}; at most {MAX_ITEMS})", ()),
    "string_too_long": lambda e, loc: (f"text longer than {e.get('ctx', {}).get('max_length', MAX_TERM)} characters", ()),
    "string_too_short": lambda e, loc: ("must not be empty", ()),
    "string_type": lambda e, loc: (f"expected text, got {type(e.get('input')).__name__}", ()),
    "int_type": lambda e, loc: (f"expected a whole number, got {type(e.get('input')).__name__}", ()),
    "greater_than_equal": lambda e, loc: (f"must be at least {e.get('ctx', {}).get('ge')}", ()),
    "less_than_equal": lambda e, loc: (f"must be at most {e.get('ctx', {}).get('le')}", ()),
    "value_error": lambda e, loc: (str(e.get("msg", "")).removeprefix("Value error, "), ()),
}
_CHOICES = {"side": ("side must be left, right or both", SIDES),
            "sex": ("sex must be female or male", ("female", "male")),
            "onset": ("onset must be sudden or gradual", ("sudden", "gradual")),
            "result": ("result must be positive or negative", _RESULTS)}


def _message(error: Any, loc: tuple, data: dict) -> Wording:
    """Our wording (and suggestions) for one pydantic error at ``loc`` (tags removed)."""
    kind, field = error["type"], str(loc[-1]) if loc else ""
    if kind == "extra_forbidden":
        return _unknown_field(error, loc, data)
    if kind == "missing":
        return _missing(error, loc, data)
    if field in _CHOICES:
        message, choices = _CHOICES[field]
        return message, closest(str(error.get("input")), choices, 1)
    if kind == "string_type" and len(loc) == 2:
        kind = "model_type"  # an item that is neither a name nor a mapping
    if kind == "too_long" and len(loc) != 1:
        return error["msg"], ()
    handler = _BY_KIND.get(kind)
    return handler(error, loc) if handler else (error["msg"], ())


def _term_at(data: dict, loc: tuple) -> str:
    try:
        item = data[loc[0]][loc[1]]
    except (KeyError, IndexError, TypeError):
        return ""
    if isinstance(item, str):
        return item.split(":")[0].strip()
    return item.get("id", "") if isinstance(item, dict) and isinstance(item.get("id"), str) else ""


def problems_from_validation(exc: ValidationError, data: dict) -> list[Problem]:
    """Pydantic's errors as our :class:`Problem` records: field path, message, value, suggestions."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for error in exc.errors(include_url=False):
        loc = tuple(p for i, p in enumerate(error["loc"])
                    if not (p in ("name", "mapping") and i == 2 and isinstance(error["loc"][1], int)))
        where = _where(loc)
        if where in seen:
            continue
        seen.add(where)
        message, suggestions = _message(error, loc, data)
        value = error.get("input")
        if error["type"] == "extra_forbidden":
            value = str(loc[-1])
        elif error["type"] == "too_long" and len(loc) == 1:
            value = None
        problems.append(Problem(message, where, value, suggestions))  # echoed safely by the HTTP layer (_safe)
    return problems


def case_json_schema(ref_template: str = "#/$defs/{model}") -> dict:
    """The JSON Schema of a case (what the validator really accepts)."""
    return CaseInput.model_json_schema(ref_template=ref_template)
