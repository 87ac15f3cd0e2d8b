"""HTTP routes for documents: ``POST /v1/handout`` and ``POST /v1/clinician-report`` (``?format=pdf|html``).

``compensa.app.http.create_app`` calls :func:`add_routes` with its consultant and its JSON-body
dependency, so the body is read, limited and refused (415, repeated keys, 422) exactly as for
``/v1/consult``. A case the validator refuses is a 422 (the app's error handler); PDF without
WeasyPrint is a 503 that says how to install it.
"""

from __future__ import annotations

from typing import Literal

from fastapi import Depends, Query
from fastapi.responses import JSONResponse, Response

__all__ = ["add_routes"]

_MEDIA = {"pdf": "application/pdf", "html": "text/html; charset=utf-8"}
_FORMAT = Query("pdf", description="pdf (WeasyPrint) or html (a self-contained page)")


#: Where the documents' stylesheet is served: the page's CSP allows no inline style.
STYLESHEET = "/v1/documents.css"


def _document(html: str, fmt: str, name: str) -> Response:
    """The document in the format asked for; 503 when PDF output is not installed."""
    if fmt == "html":
        from compensa.visualize.documents import with_linked_stylesheet

        return Response(with_linked_stylesheet(html, STYLESHEET), media_type=_MEDIA["html"])
    from compensa.visualize.documents import PDFUnavailable, to_pdf

    try:
        data = to_pdf(html)
    except PDFUnavailable as exc:
        return JSONResponse({"detail": [p.to_dict() for p in exc.problems]}, status_code=503)
    return Response(data, media_type=_MEDIA["pdf"], headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})


_RESPONSES = {200: {"content": {"application/pdf": {}, "text/html": {}}}, 503: {"description": "PDF output not installed"}}


def add_routes(app, consultant, json_body) -> None:
    """Register ``POST /v1/handout`` and ``POST /v1/clinician-report`` on ``app`` (a FastAPI app)."""

    @app.get(STYLESHEET, include_in_schema=False)
    def documents_css() -> Response:
        from compensa.visualize.documents import stylesheet

        return Response(stylesheet(), media_type="text/css; charset=utf-8")

    @app.post("/v1/handout", response_model=None, responses=_RESPONSES,
              summary="The person's home programme (exercises, dosage, why, safety net, body picture)")
    def handout(case: object = Depends(json_body), format: Literal["pdf", "html"] = _FORMAT) -> Response:
        from compensa.visualize.documents import handout_html

        return _document(handout_html(consultant.consult(case)), format, "handout")

    @app.post("/v1/clinician-report", response_model=None, responses=_RESPONSES,
              summary="The clinician's record (findings, triage, roots with evidence, targets, graph, KB version)")
    def clinician_report(case: object = Depends(json_body), format: Literal["pdf", "html"] = _FORMAT) -> Response:
        from compensa.visualize.documents import clinician_report_html

        return _document(clinician_report_html(consultant.consult(case)), format, "clinician-report")
