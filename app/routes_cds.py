"""HTTP routes of HL7 CDS Hooks 2.0 and the FHIR intake Questionnaire.

    GET  /cds-services                         discovery (public: it holds no patient data)
    POST /cds-services/{service_id}            hook request -> {cards: [...]}; JWT required
    POST /cds-services/{service_id}/feedback   {feedback: [...]} -> {}; JWT required
    GET  /fhir/Questionnaire/compensa-intake   the intake as a FHIR R4 Questionnaire

Wired into the service by ``create_app`` with ``add_routes(app, consultant, _json_body)``. See
:mod:`compensa.app.cds_hooks` for cards and trust, :mod:`compensa.app.fhir_case` for the mapping.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from compensa.app import cds_hooks
__all__ = ["add_routes", "hook_response"]


def _settings(request: Request):
    """The app's settings (``create_app`` keeps them on ``app.state``), else read from the environment."""
    found = getattr(request.app.state, "settings", None)
    if found is not None:
        return found
    from compensa.app.settings import Settings

    return Settings()


def _base(request: Request, settings) -> str:
    return (settings.public_url or str(request.base_url)).rstrip("/")


def _trust(request: Request) -> dict | None:
    """Verify the EHR's JWT for this endpoint (401 with the reason), unless configured not to."""
    settings = _settings(request)
    audience = [_base(request, settings) + request.url.path]
    if request.url.path.endswith("/feedback"):  # some clients name the service endpoint for its feedback too
        audience.append(audience[0].removesuffix("/feedback"))
    header = request.headers.get("authorization")
    if settings.cds_insecure_no_jwt and not header:
        return None
    if settings.cds_insecure_no_jwt:
        try:
            return cds_hooks.verify_jwt(header, audience, settings.cds_trusted_issuers)
        except cds_hooks.JWTRejected:
            return None  # testing mode: a bad token is not refused either
    try:
        return cds_hooks.verify_jwt(header, audience, settings.cds_trusted_issuers)
    except cds_hooks.JWTRejected as exc:
        raise HTTPException(401, detail=str(exc),
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None


class _SafeJSON(JSONResponse):
    """JSON as UTF-8, or as ASCII escapes when the content holds an unpaired surrogate (a ``\\ud800``
    escape in a resource id or key is valid JSON; echoed into a card as text it cannot be UTF-8 and
    starlette's JSONResponse raised UnicodeEncodeError: a 500)."""

    def render(self, content: object) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            import json

            return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def _service(service_id: str) -> None:
    if service_id != cds_hooks.SERVICE_ID:
        raise HTTPException(404, detail=f"no CDS service {service_id!r}; GET /cds-services lists "
                                        f"{cds_hooks.SERVICE_ID!r}")


def hook_response(consultant, body: object, base: str) -> dict:
    """The CDS Hooks response (``{cards}``) to a checked hook request."""
    from compensa.app.fhir_case import case_from_fhir

    request = cds_hooks.check_hook_request(body)
    prefetch = request.get("prefetch")
    if not isinstance(prefetch, dict) or not any(prefetch.get(k) is not None for k in
                                                 ("observations", "conditions", "questionnaireResponses")):
        raise HTTPException(412, detail="compensa reads the prefetched observations, conditions or "
                                        "questionnaireResponses (it does not call the FHIR server); none were sent")
    mapped = case_from_fhir(prefetch, consultant.kb, request["context"]["patientId"])
    report = consultant.consult(mapped.case).to_dict()
    nothing = not any(report["case"].get(k) for k in ("pain", "findings", "tests", "red_flags", "diagnoses"))
    not_used = [n.to_dict() for n in mapped.not_used]
    if nothing and not report["unrecognised"]:
        cards = cds_hooks.cards_for(report, consultant.kb, base, not_used, mapped.notes)
        return {"cards": [c for c in cards if c["source"]["topic"]["code"] == "not-used"]}
    return {"cards": cds_hooks.cards_for(report, consultant.kb, base, not_used, mapped.notes)}


def add_routes(app: FastAPI, consultant, json_body) -> None:
    """Register the CDS Hooks and FHIR routes on ``app``."""
    from compensa.app.fhir_questionnaire import QUESTIONNAIRE_ID, intake_questionnaire

    questionnaire = intake_questionnaire(consultant.kb)

    @app.get("/cds-services", summary="HL7 CDS Hooks discovery: the services compensa offers")
    def cds_discovery() -> JSONResponse:
        return JSONResponse(cds_hooks.discovery())

    @app.post("/cds-services/{service_id}", response_model=None,
              summary="CDS Hooks call (patient-view): prefetched FHIR resources -> cards (JWT required)")
    def cds_service(service_id: str, request: Request, claims=Depends(_trust),
                    body: object = Depends(json_body)) -> JSONResponse:
        _service(service_id)
        return _SafeJSON(hook_response(consultant, body, _base(request, _settings(request))))

    @app.post("/cds-services/{service_id}/feedback", response_model=None,
              summary="CDS Hooks feedback on cards (accepted / overridden)")
    def cds_feedback(service_id: str, request: Request, claims=Depends(_trust),
                     body: object = Depends(json_body)) -> JSONResponse:
        _service(service_id)
        entries = cds_hooks.check_feedback(body)
        cds_hooks.record_feedback(service_id, entries, _settings(request).cds_feedback,
                                  claims.get("iss") if isinstance(claims, dict) else None)
        return JSONResponse({})

    @app.get(f"/fhir/Questionnaire/{QUESTIONNAIRE_ID}", summary="The intake as a FHIR R4 Questionnaire")
    def fhir_questionnaire() -> JSONResponse:
        return JSONResponse(questionnaire, media_type="application/fhir+json")

