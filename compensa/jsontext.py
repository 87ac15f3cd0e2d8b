"""Read JSON text as a case can be, or refuse it: never a guess (shared by every layer).

The same rules as a request body of the service (:mod:`compensa.app.body`): no repeated key in any
object (JSON parsers keep the last one, so a second ``"red_flags"`` could hide a present red flag),
no NaN or infinities, no number beyond what a case can mean, nesting at most :data:`MAX_JSON_DEPTH`
deep. ``compensa batch`` reads each line of a JSON Lines file with :func:`parse_json_text`.
"""

from __future__ import annotations

import json
import math
import re

from compensa.errors import CaseError, Problem

__all__ = ["MAX_JSON_DEPTH", "RepeatedKey", "TooDeep", "json_line", "parse_json_text", "strict_loads"]

#: Deepest nesting accepted (a case is 3 levels deep).
MAX_JSON_DEPTH = 32


class RepeatedKey(ValueError):
    """A key appears twice in one JSON object (``args[0]`` is the key)."""


class TooDeep(ValueError):
    """Arrays and objects nest deeper than :data:`MAX_JSON_DEPTH`."""


def _pairs(pairs: list[tuple[str, object]]) -> dict:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise RepeatedKey(key)
        seen.add(key)
    return dict(pairs)


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def _constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)  # a JSON string, or the rest of an unclosed one
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _depth_ok(text: str) -> bool:
    """False when arrays/objects nest deeper than :data:`MAX_JSON_DEPTH` (brackets in strings do not count).

    Checked before parsing, in C-speed passes: a text with no more brackets than the limit cannot be
    too deep; otherwise the strings are cut out and only the brackets are walked."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return True
    depth = 0
    for char in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        depth += 1 if char in "[{" else -1
        if depth > MAX_JSON_DEPTH:
            return False
    return True


def strict_loads(text: str) -> object:
    """``json.loads`` under the rules above. Raises :class:`TooDeep`, :class:`RepeatedKey`,
    ``json.JSONDecodeError`` or another ``ValueError``/``RecursionError`` (NaN, huge numbers); the
    callers word them for where the text came from (a request body, a line of a batch file)."""
    if not _depth_ok(text):
        raise TooDeep(f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels")
    return json.loads(text, object_pairs_hook=_pairs, parse_float=_number, parse_constant=_constant)


def parse_json_text(text: str, where: str = "") -> object:
    """The JSON value of ``text``, or raise :class:`~compensa.errors.CaseError` (its problem at ``where``)."""
    try:
        return strict_loads(text)
    except TooDeep as exc:
        raise CaseError(Problem(str(exc), where)) from None
    except RepeatedKey as exc:
        raise CaseError(Problem(f"key {exc.args[0]!r} appears twice in one object; JSON would keep only the last",
                                where, exc.args[0])) from None
    except json.JSONDecodeError as exc:
        raise CaseError(Problem(f"not valid JSON: {exc.msg} (column {exc.colno})"
                                + (f", line {exc.lineno} of the text" if exc.lineno > 1 else ""), where)) from None
    except (ValueError, RecursionError) as exc:  # huge integers, NaN, infinities
        raise CaseError(Problem(f"not valid JSON for a case: {str(exc)[:120]}", where)) from None


def json_line(record: object) -> str:
    """``record`` as one compact JSON line (no newline): UTF-8 text where it can be, ASCII escapes when
    it holds an unpaired surrogate (valid JSON input can carry one; it cannot be written as UTF-8)."""
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(record, ensure_ascii=True, separators=(",", ":"))
    return text
