"""HTTP routes of the workflows around a consultation: ``POST /v1/whatif`` and ``POST /v1/compare``."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse

from compensa.errors import CaseError, Problem

__all__ = ["add_routes"]


def _whatif_body(body: object) -> tuple[object, dict | None, dict | None, bool]:
    if not isinstance(body, dict) or "case" not in body or set(body) - {"case", "add", "remove", "strict"}:
        raise CaseError(Problem('the body must be {"case": {...}, "add": {partial case}, "remove": {partial case}}',
                                "body"))
    strict = body.get("strict", False)
    if not isinstance(strict, bool):
        raise CaseError(Problem("strict must be true or false", "strict"))
    return body["case"], body.get("add"), body.get("remove"), strict


def add_routes(app: FastAPI, consultant, json_body) -> None:
    """Register the workflow routes on ``app`` (run on ``consultant``; bodies read by ``json_body``)."""
    from compensa.engine.compare import compare_visits, visits_from
    from compensa.engine.whatif import what_if

    @app.post("/v1/whatif", response_model=None,
              summary="What would change if findings or tests were added or taken away: before, after, changes")
    def whatif(body: object = Depends(json_body)) -> JSONResponse:
        case, add, remove, strict = _whatif_body(body)
        return JSONResponse(what_if(consultant, case, add, remove, strict))

    @app.post("/v1/compare", response_model=None,
              summary="Compare two visits: what resolved, improved, persists or is new; which exercises to keep")
    def compare(body: object = Depends(json_body)) -> JSONResponse:
        first, second = visits_from(body)
        strict = body.get("strict", False) if isinstance(body, dict) else False
        return JSONResponse(compare_visits(consultant, first, second, strict is True))
