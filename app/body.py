"""Read a request body as the JSON it claims to be, or refuse it: never a guess.

A body is accepted as ``application/json`` or ``application/*+json`` in any letter case and with any
parameters (a ``charset`` must be UTF-8); anything else is 415. The JSON itself must be UTF-8, hold
no repeated key in any object (JSON parsers keep the last one, so a second ``"red_flags"`` could hide
a present red flag), no NaN or infinities and no number beyond what a case can mean. Problems are
:class:`~compensa.errors.CaseError` (422) naming where they are.
"""

from __future__ import annotations

import json
import math
import re

from compensa.errors import CaseError, CompensaError, Problem

__all__ = ["BodyError", "UnsupportedMediaType", "is_json_media_type", "parse_json_body"]

#: Deepest nesting accepted in a JSON body (a case is 3 levels deep).
MAX_JSON_DEPTH = 32


class UnsupportedMediaType(CompensaError):
    """The body is not declared as JSON (HTTP 415)."""


class BodyError(CaseError):
    """The body is declared as JSON but is not valid JSON of the kind a case can be (HTTP 422)."""


def is_json_media_type(content_type: str | None) -> bool:
    """True for ``application/json`` and ``application/*+json``, any case, any parameters, UTF-8 only."""
    if not content_type:
        return False
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    if not (media == "application/json" or (media.startswith("application/") and media.endswith("+json"))):
        return False
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False
    return True


class _Repeated(ValueError):
    pass


def _pairs(pairs: list[tuple[str, object]]) -> dict:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _Repeated(key)
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

    Checked before parsing, in C-speed passes: a body with no more brackets than the limit cannot be
    too deep; otherwise the strings are cut out and only the brackets are walked."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return True
    depth = 0
    for char in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        depth += 1 if char in "[{" else -1
        if depth > MAX_JSON_DEPTH:
            return False
    return True


def parse_json_body(body: bytes, content_type: str | None) -> object:
    """The JSON value of a request body, or raise :class:`UnsupportedMediaType` / :class:`BodyError`."""
    if not is_json_media_type(content_type):
        raise UnsupportedMediaType(Problem(
            f"unsupported media type {content_type or '(none)'!r}: send the case as JSON with "
            "Content-Type: application/json", ""))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError(Problem("the body is not valid UTF-8 text", "")) from None
    if not _depth_ok(text):
        raise BodyError(Problem(f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels", ""))
    try:
        return json.loads(text, object_pairs_hook=_pairs, parse_float=_number, parse_constant=_constant)
    except _Repeated as exc:
        raise BodyError(Problem(f"key {exc.args[0]!r} appears twice in one object; JSON would keep only the last",
                                "", exc.args[0])) from None
    except json.JSONDecodeError as exc:
        raise BodyError(Problem(f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
                                "body")) from None
    except (ValueError, RecursionError) as exc:  # huge integers, NaN, infinities
        raise BodyError(Problem(f"the body is not valid JSON for a case: {str(exc)[:120]}", "")) from None
