"""``compensa serve``: the HTTP inference service and the web page.

    POST /v1/consult      case -> report            POST /v1/triage   case -> triage only
    POST /v1/explain      case (+ target | why_not) -> explanation; ?format=json|svg|dot
    GET  /v1/kb           version and counts        GET  /v1/kb/vocabulary  ids, labels, aliases
    GET  /healthz         GET /openapi.json         GET  /   the web page (assets served by the package)

Bad input answers 422 with the field path, the bad value and the closest known ids; bodies over
:data:`MAX_BODY` bytes answer 413; unexpected errors answer 500 with a request id, details only in
the server log. Case content is never logged. experta engines are not thread-safe: every request
borrows an engine of its own from a bounded pool (see :class:`compensa.engine.inference.CompiledKB`);
consultations and triages run one at a time per worker (:data:`CONSULT_LANES`), in the event
loop's thread, the others waiting in the loop (:class:`ConsultLane`). ``POST /v1/consult``, the hot
route, is answered in plain ASGI in front of FastAPI (:class:`compensa.app.consult_route.ConsultRoute`)
with the same bytes, headers and errors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import traceback
import weakref
from pathlib import Path
from typing import Any, Literal

import anyio
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipMiddleware

from compensa.app import schemas
from compensa.app.consult_route import ConsultRoute
from compensa.app.middleware import ApiKeys, BodyLimit, RequestId, SecurityHeaders
from compensa.app.schemas import json_schema
from compensa.engine.case_schema import case_json_schema
from compensa.engine.report_model import ReportData, Triage
from compensa.errors import CompensaError, json_safe, problem_json

__all__ = ["MAX_BODY", "MAX_CDS_BODY", "app_factory", "create_app"]

log = logging.getLogger("compensa.http")

#: The largest request body accepted, in bytes (a real case is a few hundred bytes).
MAX_BODY = 64 * 1024
#: The largest CDS Hooks request (``/cds-services/...``): it carries the EHR's prefetched FHIR resources.
MAX_CDS_BODY = 1024 * 1024
STATIC = Path(__file__).resolve().parent / "static"


def _openapi(app: FastAPI):
    """The OpenAPI document with the request bodies described by the one case model."""
    from fastapi.openapi.utils import get_openapi

    def build():
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, summary=app.summary, description=app.description,
                          routes=app.routes)
        components = doc.setdefault("components", {}).setdefault("schemas", {})
        case = case_json_schema(ref_template="#/components/schemas/{model}")
        components.update(case.pop("$defs", {}))
        components["Case"] = case
        explain = schemas.explain_request_schema("#/components/schemas/Case")
        components["ExplainRequest"] = explain
        app.openapi_schema = doc
        return doc

    return build


def _body_spec(schema_name: str) -> dict:
    ref = {"$ref": f"#/components/schemas/{schema_name}"}
    return {"requestBody": {"required": True, "description": "JSON (application/json or application/*+json, "
                            "UTF-8); a repeated key anywhere is refused. Ids: GET /v1/kb/vocabulary.",
                            "content": {"application/json": {"schema": ref}}}}


async def _json_body(request: Request) -> object:
    from compensa.app.body import parse_json_body

    return parse_json_body(await request.body(), request.headers.get("content-type"))


#: Consultations (``/v1/consult``, ``/v1/triage``) run at once per worker process. One: the GIL runs
#: one anyway, and with several in threads the collector walks every run's live facts and the
#: caches are shared. Measured with wrk over the case library, 1 worker, concurrency 8, against up
#: to 4 at once: 25.6 -> 20.6 ms of CPU per request, 38 -> 47 req/s, p99 412 -> 266 ms.
CONSULT_LANES = 1


class ConsultLane:
    """Runs consultations in the event loop's own thread, at most ``width`` at a time per event loop;
    the others wait in the loop. A limiter per loop: a ``TestClient`` runs every request in a loop of
    its own.

    Not in a worker thread, as they were: with one lane the thread bought no parallelism (the GIL)
    but every consultation paid for the hop (a future, a queue, a thread woken, the loop woken back)
    and for the GIL passed back and forth between the loop and the consulting thread, ~0.3-0.5 ms
    of CPU per request (measured with wrk, 1 worker, concurrency 8: 6.5 -> 5.9 ms CPU per request,
    152 -> 167 req/s). The loop waits for the consultation in progress (a typical case: a few ms; the
    largest case a body can hold: ~100 ms) before it answers anything else, a probe included; with
    the thread it waited for the GIL instead, which the consultation held for 5 ms at a time."""

    def __init__(self, width: int = CONSULT_LANES):
        self.width = width
        self._limiters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    async def run(self, func, *args):
        """``func(*args)`` once a lane is free, in the loop's thread (the request's context is current)."""
        loop = asyncio.get_running_loop()
        limiter = self._limiters.get(loop)
        if limiter is None:
            limiter = self._limiters[loop] = anyio.CapacityLimiter(self.width)
        async with limiter:
            return func(*args)


def _report_bytes(report) -> bytes:
    """The report's JSON straight from its typed record: pydantic serialises it once, in Rust (the same
    bytes as ``JSONResponse(report.to_dict())``, a third of the time: no dict built, no json.dumps)."""
    return report.data.model_dump_json(by_alias=True).encode("utf-8")


def _install_error_handlers(app: FastAPI) -> None:
    from compensa.app.audit import AuditError
    from compensa.app.body import UnsupportedMediaType

    def rid(request: Request) -> str:
        return request.scope.get("state", {}).get("request_id", "-")

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"detail": exc.detail, "request_id": rid(request)}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError):  # query parameters only
        detail = [{"loc": list(e["loc"]), "msg": e["msg"], "input": json_safe(e.get("input")), "suggestions": []}
                  for e in exc.errors()]
        return JSONResponse({"detail": detail, "request_id": rid(request)}, status_code=422)

    @app.exception_handler(AuditError)
    async def on_audit(request: Request, exc: AuditError):
        log.error("audit log failure: %s", exc)
        return JSONResponse({"detail": "the audit log could not be written; no advice was given",
                             "request_id": rid(request)}, status_code=503, headers={"Retry-After": "30"})

    @app.exception_handler(CompensaError)
    async def on_compensa_error(request: Request, exc: CompensaError):
        status = 415 if isinstance(exc, UnsupportedMediaType) else 422  # a body not declared as JSON, or bad input
        return JSONResponse({"detail": [problem_json(p) for p in exc.problems], "request_id": rid(request)},
                            status_code=status)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception):
        frames = "".join(traceback.format_tb(exc.__traceback__))
        # the exception message may quote the case: log it only when explicitly allowed
        message = str(exc) if os.environ.get("COMPENSA_LOG_CASES") == "1" else "(message withheld)"
        log.error("request %s %s %s failed: %s %s\n%s", rid(request), request.method, request.url.path,
                  type(exc).__name__, message, frames)
        return JSONResponse({"detail": "internal error; quote the request id when reporting it",
                             "request_id": rid(request)}, status_code=500)


def create_app(kb_path: str | None = None, max_engines: int | None = None, *, frame_ancestors: str | None = None,
               audit_path: str | None = None, api_keys: list[str] | None = None, settings=None):
    """Build the service (an ASGI app) for a KB (bundled by default), compiled before serving.

    Its settings are a :class:`compensa.app.settings.Settings` (``settings``, else read from the
    ``COMPENSA_*`` environment, which is how ``compensa serve`` passes them to its worker
    processes); the keyword arguments, when given, override their fields (``kb``, ``engines``,
    ``frame_ancestors``, ``audit``, ``api_keys``). With API keys set, every route but the probes,
    the pages and CDS Hooks needs one (:class:`compensa.app.middleware.ApiKeys`)."""
    from compensa.app.settings import load_settings
    from compensa.engine import Consultant, load_kb

    overrides = {"kb": kb_path, "engines": max_engines, "frame_ancestors": frame_ancestors, "audit": audit_path,
                 "api_keys": api_keys}
    settings = load_settings(settings, **overrides)
    kb = load_kb(settings.kb) if settings.kb else load_kb()  # a bad KB refuses to start: KBError
    consultant = Consultant(kb, max_engines=settings.engines)
    audit = None
    if settings.audit:
        from compensa.app.audit import AuditLog

        audit = AuditLog(str(settings.audit))
    app = FastAPI(
        title="compensa", version=kb.version, docs_url=None, redoc_url=None,
        summary="Musculoskeletal compensation chains: red-flag triage, likely root imbalances, targets, explanations.",
        description="Decision support and teaching material, not a diagnosis. Every report carries "
                    "`kb_version` and the disclaimer; any present or unsure red flag withholds the exercise plan.",
        responses={413: {"model": schemas.ErrorResponse}, 415: {"model": schemas.ErrorResponse},
                   422: {"model": schemas.ErrorResponse}, 500: {"model": schemas.ErrorResponse}})
    app.state.consultant = consultant
    app.state.settings = settings
    lane = ConsultLane()
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    _install_error_handlers(app)

    def record(report: dict, scope, endpoint: str) -> None:
        if audit is not None:
            from compensa.app.audit import audit_record

            audit.write(audit_record(report, scope.get("state", {}).get("request_id", "-"), endpoint))

    @app.post("/v1/consult", response_model=None, responses={200: {"model": ReportData}},
              openapi_extra=_body_spec("Case"),
              summary="Consult a case: triage, ranked root causes, targets, next assessments")
    async def consult(request: Request, case: object = Depends(_json_body)) -> Response:
        # answered by ConsultRoute (below) in front of the app; this route documents it and takes
        # what ConsultRoute passes on (a request under a root_path), with the same code
        return Response(await lane.run(consulted, case, request.scope), media_type="application/json")

    reports = None
    if settings.report_cache:
        from compensa.app.report_cache import ReportCache

        reports = ReportCache(settings.report_cache, kb.version_string)
    app.state.report_cache = reports

    def consulted(case: object, scope) -> bytes:
        if reports is None:
            return consulted_now(case, scope)
        key = reports.key(case)
        kept = reports.get(key)
        if kept is not None:
            if audit is not None:
                record(json.loads(kept), scope, "consult")
            return kept
        content = consulted_now(case, scope)
        reports.put(key, content)
        return content

    def consulted_now(case: object, scope) -> bytes:
        from compensa.app.fhir_questionnaire import case_from_body_if_fhir

        fhir_case = case_from_body_if_fhir(case, consultant.kb)  # a FHIR QuestionnaireResponse body
        report = consultant.consult(case if fhir_case is None else fhir_case)
        if audit is not None:
            record(report.to_dict(), scope, "consult")
        return _report_bytes(report)

    async def consult_bytes(scope, body: bytes) -> bytes:
        """POST /v1/consult for :class:`~compensa.app.consult_route.ConsultRoute`: the body as the
        route's ``_json_body`` reads it, then the consultation in the lane."""
        from compensa.app.body import parse_json_body

        return await lane.run(consulted, parse_json_body(body, Headers(scope=scope).get("content-type")), scope)

    @app.post("/v1/parse", response_model=None, summary="Parse a clinical note into a case (spans, what was not understood)")
    def parse(body: object = Depends(_json_body)) -> JSONResponse:
        if not isinstance(body, dict) or set(body) - {"text"} or not isinstance(body.get("text"), str):
            from compensa.errors import CaseError, Problem

            raise CaseError(Problem("the body must be {\"text\": \"the clinical note\"}", "text"))
        return JSONResponse(consultant.parse_note(body["text"]))

    @app.post("/v1/triage", response_model=None, responses={200: {"model": Triage}},
              openapi_extra=_body_spec("Case"), summary="Red-flag triage only")
    async def triage(case: object = Depends(_json_body)) -> JSONResponse:
        return JSONResponse(await lane.run(consultant.triage, case))

    @app.post("/v1/explain", summary="Explain a consultation (WHY a target, HOW, WHY NOT a root) or draw its graph",
              openapi_extra=_body_spec("ExplainRequest"),
              responses={200: {"content": {"application/json": {}, "image/svg+xml": {}, "text/vnd.graphviz": {}}}})
    def explain(body: object = Depends(_json_body),
                format: Literal["json", "svg", "dot"] = Query("json", description="json: explanation + graph; svg/dot: the graph")):
        from compensa.visualize import dot_available, explain as explaining, explanation_graph, focus, graph_to_json, to_dot

        request, case = schemas.split_explain_request(body)
        report = consultant.consult(case)
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
        data: dict[str, Any] = consultant.vocabulary.to_dict()
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

    @app.get("/v1/schema/{which}", summary="JSON Schema of the case (input) or the report (output)")
    def schema(which: Literal["case", "report"]):
        return JSONResponse(json_schema(which))

    @app.get("/healthz", summary="Liveness: the KB is loaded and compiled")
    def healthz():
        return {"status": "ok", "kb_version": kb.version_string}

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    _add_workflow_routes(app, consultant)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # responses of 1 KB and more are gzipped for clients that ask (the page's vocabulary and body atlas
    # are ~170 KB of JSON); a client that does not ask (wrk, most programs) gets them as they are
    compressed = GZipMiddleware(ConsultRoute(app, consult_bytes, app.exception_handlers), minimum_size=1024)
    limited = BodyLimit(compressed, MAX_BODY, {"/cds-services": MAX_CDS_BODY})
    guarded = ApiKeys(limited, settings.api_keys) if settings.api_keys else limited
    return RequestId(SecurityHeaders(guarded, settings.frame_ancestors))


def _add_workflow_routes(app: FastAPI, consultant) -> None:
    """The routes kept in modules of their own: what-if and visits, the interview, handouts and reports,
    the quiz and the KB browser (with their pages)."""
    from compensa.app import routes_body, routes_cds, routes_documents, routes_interview, routes_quiz, routes_workflows

    for routes in (routes_workflows, routes_interview, routes_documents, routes_quiz, routes_body, routes_cds):
        routes.add_routes(app, consultant, _json_body)

    @app.get("/quiz", include_in_schema=False)
    def quiz_page():
        return FileResponse(STATIC / "quiz.html", media_type="text/html")

    @app.get("/kb", include_in_schema=False)
    def kb_page():
        return FileResponse(STATIC / "kb.html", media_type="text/html")


def app_factory():
    """Entry point for uvicorn (``--factory``): the settings come from the ``COMPENSA_*`` environment.

    It runs once in every worker process of ``compensa serve``, which it then tunes for serving:
    the compiled KB is moved out of the garbage collector's sight (``gc.freeze()``: a full collection
    no longer walks the ~100 000 objects of the KB and its rules, a pause of ~150 ms, every couple of
    hundred consultations) and log records skip what no format here prints
    (:func:`compensa.app.logs.lighten_records`)."""
    from compensa.app.logs import lighten_records
    from compensa.engine.consult import freeze_long_lived

    app = create_app()
    lighten_records()
    freeze_long_lived()
    return app


