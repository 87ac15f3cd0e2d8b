"""Read a request body as the JSON it claims to be, or refuse it: never a guess.

A body is accepted as ``application/json`` or ``application/*+json`` in any letter case and with any
parameters (a ``charset`` must be UTF-8); anything else is 415. The JSON itself must be UTF-8, hold
no repeated key in any object (JSON parsers keep the last one, so a second ``"red_flags"`` could hide
a present red flag), no NaN or infinities and no number beyond what a case can mean. Problems are
:class:`~compensa.errors.CaseError` (422) naming where they are.
"""

from __future__ import annotations

import json

from compensa.errors import CaseError, CompensaError, Problem
from compensa.jsontext import MAX_JSON_DEPTH, RepeatedKey, TooDeep, strict_loads

__all__ = ["MAX_JSON_DEPTH", "BodyError", "UnsupportedMediaType", "is_json_media_type", "parse_json_body"]


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
    try:
        return strict_loads(text)
    except TooDeep as exc:
        raise BodyError(Problem(str(exc), "")) from None
    except RepeatedKey as exc:
        raise BodyError(Problem(f"key {exc.args[0]!r} appears twice in one object; JSON would keep only the last",
                                "", exc.args[0])) from None
    except json.JSONDecodeError as exc:
        raise BodyError(Problem(f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
                                "body")) from None
    except (ValueError, RecursionError) as exc:  # huge integers, NaN, infinities
        raise BodyError(Problem(f"the body is not valid JSON for a case: {str(exc)[:120]}", "")) from None
