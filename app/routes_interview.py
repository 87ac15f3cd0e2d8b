"""``POST /v1/interview``: ``{case, skipped: [id], strict?}`` -> the next question (stateless).

Wired into the service by ``create_app`` with ``add_routes(app, consultant, _json_body)``. The answer
is :func:`compensa.engine.interview.next_question`'s: ``{question: {id, kind, text, how_to, side,
label, answers}, rationale, should_stop, ranking, triage}``. Bad input (a body that is not an object,
an unknown key, a bad case, ``skipped`` not a list of ids) is a 422 naming the field.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI

from compensa.errors import CaseError, Problem, closest

__all__ = ["add_routes", "interview_request"]

_KEYS = ("case", "skipped", "strict")
#: More skipped ids than this is not an interview (bounded work per request).
MAX_SKIPPED = 1000


def interview_request(body: object) -> tuple[object, list[str], bool]:
    """``(case, skipped, strict)`` from a request body; CaseError (422) naming what is wrong."""
    if not isinstance(body, dict):
        raise CaseError(Problem("the body must be an object {case, skipped}", "", type(body).__name__))
    problems = [Problem(f"unknown field {key!r}", key, key, closest(key, _KEYS)) for key in body if key not in _KEYS]
    if "case" not in body:
        problems.append(Problem("missing field 'case' (the partial case)", "case"))
    skipped = body.get("skipped", [])
    if not isinstance(skipped, list) or len(skipped) > MAX_SKIPPED:
        problems.append(Problem(f"'skipped' must be a list of at most {MAX_SKIPPED} ids", "skipped",
                                type(skipped).__name__))
        skipped = []
    problems += [Problem("a skipped id must be a string", f"skipped[{i}]", item)
                 for i, item in enumerate(skipped) if not isinstance(item, str)]
    strict = body.get("strict", False)
    if not isinstance(strict, bool):
        problems.append(Problem("'strict' must be true or false", "strict", strict))
    if problems:
        raise CaseError(problems)
    return body["case"], skipped, strict


def add_routes(app: FastAPI, consultant, json_body) -> None:
    """Register ``POST /v1/interview`` on ``app``, answering with ``consultant``; ``json_body`` is the
    service's body dependency (media type and repeated-key checks)."""
    from compensa.engine.interview import next_question

    @app.post("/v1/interview", response_model=None,
              summary="Interview: the next question worth asking (red flags first), with the current ranking")
    def interview(body: object = Depends(json_body)) -> dict:
        case, skipped, strict = interview_request(body)
        return next_question(consultant, case, skipped, strict=strict)
