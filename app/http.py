"""``compensa serve``: the HTTP inference service and the web page.

    POST /v1/consult      case -> report            POST /v1/triage   case -> triage only
    POST /v1/explain      case (+ target | why_not) -> explanation; ?format=json|svg|dot
    GET  /v1/kb           version and counts        GET  /v1/kb/vocabulary  ids, labels, aliases
    GET  /healthz         GET /openapi.json         GET  /   the web page (assets served by the package)

Bad input answers 422 with the field path, the bad value and the closest known ids; bodies over
:data:`MAX_BODY` bytes answer 413; unexpected errors answer 500 with a request id, details only in
the server log. Case content is never logged. experta engines are not thread-safe: every request
borrows an engine of its own from a bounded pool (see :class:`compensa.engine.inference.CompiledKB`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import traceback
import uuid
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from compensa.app import schemas
from compensa.errors import CompensaError, Problem, closest

__all__ = ["MAX_BODY", "app_factory", "create_app"]

log = logging.getLogger("compensa.http")

#: The largest request body accepted, in bytes (a real case is a few hundred bytes).
MAX_BODY = 64 * 1024
STATIC = Path(__file__).resolve().parent / "static"
_MODEL_TAGS = {"str", "PainItem", "FindingItem", "TestItem", "FlagItem", "HistoryItem", "DiagnosisItem"}
_ITEM_FIELDS = {"pain": ("site", "side"), "findings": ("id", "side", "present"), "tests": ("id", "result", "side"),
                "red_flags": ("id", "present"), "history": ("id", "present"), "diagnoses": ("id", "side")}


def _loc(where: str) -> list:
    """'tests[1].result' -> ['body', 'tests', 1, 'result']."""
    out: list = ["body"]
    for part in where.replace("]", "").replace("[", ".").split("."):
        if part:
            out.append(int(part) if part.isdigit() else part)
    return out


def _safe(value: object, depth: int = 0) -> object:
    """Echo an input value back in JSON safely: no bytes, NaN, infinities or unpaired surrogates."""
    if isinstance(value, bytes):
        return f"<{len(value)} bytes that are not a JSON object>"
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        text = value.encode("utf-8", "replace").decode("utf-8")
        return text if len(text) <= 200 else text[:200] + "…"
    if isinstance(value, (list, tuple)):
        return [_safe(v, depth + 1) for v in list(value)[:20]] if depth < 3 else "…"
    if isinstance(value, dict):
        return {str(_safe(k, 3)): _safe(v, depth + 1) for k, v in list(value.items())[:20]} if depth < 3 else "…"
    if value is None or isinstance(value, (bool, int, float)):
        return value if not isinstance(value, int) or abs(value) < 10**15 else "<a very large number>"
    return repr(value)[:200]


def _problem_json(problem: Problem) -> dict:
    return {"loc": _loc(problem.where), "msg": problem.message, "input": _safe(problem.value),
            "suggestions": list(problem.suggestions)}


_NOT_JSON = "send the case as a JSON object with Content-Type: application/json"


def _validation_errors(errors: list[dict], explain: bool) -> list[dict]:
    """Pydantic errors in our shape: union branches collapsed, unknown fields with suggestions."""
    grouped: dict[tuple, list[dict]] = {}
    for error in errors:
        loc = list(error["loc"])
        tag_at = next((i for i, p in enumerate(loc) if p in _MODEL_TAGS), None)
        prefix = tuple(loc[:tag_at]) if tag_at is not None else tuple(loc)
        grouped.setdefault(prefix, []).append({**error, "_tag_at": tag_at})
    out = []
    for prefix, items in grouped.items():
        if prefix == ("body",) and any(e["type"] in ("model_attributes_type", "dict_type", "model_type") for e in items):
            out.append({"loc": ["body"], "msg": _NOT_JSON, "input": _safe(items[0].get("input")), "suggestions": []})
            continue
        deeper = [e for e in items if e["_tag_at"] is not None and len(e["loc"]) > e["_tag_at"] + 1]
        if items[0]["_tag_at"] is not None and not deeper:
            section = prefix[1] if len(prefix) > 1 else ""
            fields = ", ".join(_ITEM_FIELDS.get(section, ()))
            out.append({"loc": list(prefix), "msg": f"must be a name (text) or a mapping with {fields}",
                        "input": _safe(items[0].get("input")), "suggestions": []})
            continue
        for e in (deeper or items):
            loc = [p for p in e["loc"] if p not in _MODEL_TAGS]
            entry = {"loc": loc, "msg": e["msg"], "input": _safe(e.get("input")), "suggestions": []}
            if e["type"] == "extra_forbidden":
                name = str(loc[-1])
                section = loc[1] if len(loc) > 2 else None
                known = _ITEM_FIELDS.get(section) if section else tuple(
                    (schemas.ExplainRequest if explain else schemas.CaseModel).model_fields)
                entry["msg"] = f"unknown field {name!r}"
                entry["suggestions"] = list(closest(name, known or (), 2))
                entry.pop("input", None)
                entry["input"] = name
            out.append(entry)
    return out


class BodyLimit:
    """ASGI middleware: read the whole body first and refuse more than ``limit`` bytes with 413.

    Reading it here (not while the app parses) means a chunked body that grows past the limit gets a
    413 too, and the app never sees a partial body. A malformed Content-Length gets 400.
    """

    def __init__(self, app, limit: int = MAX_BODY):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                return await self._answer(send, 400, "malformed Content-Length header")
            if int(declared) > self.limit:
                return await self._refuse(send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return await self._refuse(send)
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send):
        await self._answer(send, 413, f"request body larger than {self.limit} bytes")

    @staticmethod
    async def _answer(send, status: int, detail: str):
        body = json.dumps({"detail": detail}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise _DuplicateKey(repeated[0])
    return dict(pairs)


class _DuplicateKey(ValueError):
    pass


class CheckedJSONRoute(APIRoute):
    """A route that refuses JSON bodies with a repeated key (JSON would silently keep the last one,
    so a second "red_flags" could hide a present red flag)."""

    def get_route_handler(self):
        original = super().get_route_handler()

        async def handler(request: Request):
            body = await request.body()
            if body and request.headers.get("content-type", "").startswith("application/json"):
                try:
                    json.loads(body, object_pairs_hook=_no_duplicate_keys)
                except _DuplicateKey as exc:
                    raise CompensaError(Problem(f"key {exc.args[0]!r} appears twice; JSON would keep only the last",
                                                "", exc.args[0])) from None
                except (ValueError, RecursionError):
                    pass  # not JSON at all: the body parser reports it
            return await original(request)

        return handler


def create_app(kb_path: str | None = None, max_engines: int | None = None) -> FastAPI:
    """Build the service for a KB (bundled by default); the KB is loaded and compiled before serving."""
    from compensa.engine import Consultant, load_kb

    kb = load_kb(kb_path) if kb_path else load_kb()  # a bad KB refuses to start: KBError
    consultant = Consultant(kb, max_engines=max_engines or int(os.environ.get("COMPENSA_ENGINES", "4")))
    app = FastAPI(
        title="compensa", version=kb.version,
        summary="Musculoskeletal compensation chains: red-flag triage, likely root imbalances, targets, explanations.",
        description="Decision support and teaching material, not a diagnosis. Every report carries "
                    "`kb_version` and the disclaimer; any red flag withholds the exercise plan.",
        responses={413: {"model": schemas.ErrorResponse}, 422: {"model": schemas.ErrorResponse},
                   500: {"model": schemas.ErrorResponse}})
    app.state.consultant = consultant
    app.router.route_class = CheckedJSONRoute

    @app.middleware("http")
    async def request_id(request: Request, call_next):
        request.state.request_id = uuid.uuid4().hex[:12]
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError):
        detail = _validation_errors(exc.errors(), request.url.path.endswith("/explain"))
        return JSONResponse({"detail": detail, "request_id": request.state.request_id}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException):
        rid = getattr(request.state, "request_id", None)
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):
            detail = [{"loc": ["body"], "msg": "the body is not valid JSON (UTF-8): " + _NOT_JSON, "input": None,
                       "suggestions": []}]
            return JSONResponse({"detail": detail, "request_id": rid}, status_code=422)
        return JSONResponse({"detail": exc.detail, "request_id": rid}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(CompensaError)
    async def on_compensa_error(request: Request, exc: CompensaError):
        return JSONResponse({"detail": [_problem_json(p) for p in exc.problems],
                             "request_id": request.state.request_id}, status_code=422)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception):
        rid = getattr(request.state, "request_id", "-")
        frames = "".join(traceback.format_tb(exc.__traceback__))
        # the exception message may quote the case: log it only when explicitly allowed
        message = str(exc) if os.environ.get("COMPENSA_LOG_CASES") == "1" else "(message withheld)"
        log.error("request %s %s %s failed: %s %s\n%s", rid, request.method, request.url.path,
                  type(exc).__name__, message, frames)
        return JSONResponse({"detail": "internal error; quote the request id when reporting it",
                             "request_id": rid}, status_code=500)

    def to_case(model: schemas.CaseModel) -> dict:
        data = model.model_dump(exclude_none=True, exclude={"target", "why_not", "verbose", "full"})
        return {k: v for k, v in data.items() if v not in ([], None)}

    @app.post("/v1/consult", response_model=schemas.ReportModel, response_model_by_alias=True,
              summary="Consult a case: triage, ranked root causes, targets, next assessments")
    def consult(case: schemas.CaseModel):
        return consultant.consult(to_case(case)).to_dict()

    @app.post("/v1/triage", response_model=schemas.TriageModel, summary="Red-flag triage only")
    def triage(case: schemas.CaseModel):
        return consultant.triage(to_case(case))

    @app.post("/v1/explain", summary="Explain a consultation (WHY a target, HOW, WHY NOT a root) or draw its graph",
              responses={200: {"content": {"application/json": {}, "image/svg+xml": {}, "text/vnd.graphviz": {}}}})
    def explain(request: schemas.ExplainRequest,
                format: Literal["json", "svg", "dot"] = Query("json", description="json: explanation + graph; svg/dot: the graph")):
        from compensa.visualize import dot_available, explain as explaining, explanation_graph, focus, graph_to_json, to_dot
        from compensa.errors import UsageError

        if request.target and request.why_not:
            raise UsageError(Problem("give target or why_not, not both", "target"))
        report = consultant.consult(to_case(request))
        if request.target:  # validate in every format (an unknown muscle is a 422 for svg/dot too)
            explained = explaining.why_target(report, request.target, consultant.vocabulary)
        elif request.why_not:
            explained = explaining.why_not(report, request.why_not, consultant.vocabulary)
        else:
            explained = None
        graph = explanation_graph(report)
        if not request.full:
            graph = focus(graph, report)
        if format in ("svg", "dot"):
            source = to_dot(graph, f"compensa explanation — {report.case.name or 'consultation'}", kb.regions)
            if format == "dot" or not dot_available():
                headers = {} if format == "dot" else {"X-Compensa-Note": "Graphviz dot is not installed: DOT returned"}
                return Response(source, media_type="text/vnd.graphviz", headers=headers)
            import graphviz

            return Response(graphviz.Source(source).pipe(format="svg"), media_type="image/svg+xml")
        data = explained if explained is not None else explaining.how(report, verbose=request.verbose)
        return {"kb_version": kb.version_string, "explanation": data, "text": explaining.to_text(data),
                "graph": graph_to_json(graph)}

    @app.get("/v1/kb", response_model=schemas.KBInfo, summary="Knowledge-base version and counts")
    def kb_info():
        return {"kb_version": kb.version_string, "name": kb.name, "version": kb.version, "counts": kb.counts()}

    @app.get("/v1/kb/vocabulary", summary="Every id with its label and aliases (plus how-to for assessments)")
    def vocabulary():
        data = consultant.vocabulary.to_dict()
        for kind in ("finding", "test"):
            for entry in data[kind]:
                a = kb.assessments[entry["id"]]
                entry.update(region=a.region, sided=a.sided, how=a.how, reading=a.reading)
        for entry in data["red_flag"]:
            flag = kb.red_flags[entry["id"]]
            entry.update(question=flag.question, level=flag.level, category=flag.category)
        for entry in data["pain"]:
            entry["region"] = kb.pain_sites[entry["id"]].region
        return {"kb_version": kb.version_string, **data}

    @app.get("/healthz", summary="Liveness: the KB is loaded and compiled")
    def healthz():
        return {"status": "ok", "kb_version": kb.version_string}

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return BodyLimit(app)  # type: ignore[return-value]


def app_factory():
    """Entry point for uvicorn (``--factory``): reads ``COMPENSA_KB`` for a KB folder."""
    return create_app(os.environ.get("COMPENSA_KB") or None)


