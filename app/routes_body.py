"""``GET /v1/body-atlas``: the anatomical body atlas the web page's body map and results picture draw.

Wired into the service by ``create_app`` with ``add_routes(app, consultant, _json_body)``.

The answer is :func:`compensa.visualize.body_atlas.atlas` labelled from the service's KB: the front
and back outlines, decorative details, one zone (SVG path data, centroid, KB label) per pain site and
side, and the anchor points of every muscle and pain site. It does not change while the service runs,
so it is sent with ``Cache-Control: public, max-age=3600``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

__all__ = ["CACHE_CONTROL", "add_routes"]

CACHE_CONTROL = "public, max-age=3600"


def add_routes(app: FastAPI, consultant, json_body) -> None:
    """Register ``GET /v1/body-atlas`` on ``app``, built from ``consultant.kb`` (``json_body`` is unused:
    the route takes no body; the argument keeps the routes modules' one signature)."""
    from compensa.visualize.body_atlas import atlas

    data = atlas(consultant.kb)  # built once: the KB does not change while serving

    @app.get("/v1/body-atlas", response_model=None,
             summary="The body atlas: front and back figures, a zone per pain site and side, muscle anchors")
    def body_atlas() -> JSONResponse:
        return JSONResponse(data, headers={"Cache-Control": CACHE_CONTROL})
