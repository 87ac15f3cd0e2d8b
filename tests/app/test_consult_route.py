"""POST /v1/consult answered in plain ASGI (ConsultRoute) gives what the FastAPI route behind it gives:
the same status, headers and bytes for reports and for every kind of refusal, gzipped or not, with
API keys, an audit log and an unexpected failure; consultations run in the event loop's thread."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from starlette.middleware.gzip import GZipMiddleware

from compensa.app.consult_route import ConsultRoute
from compensa.app.http import MAX_BODY, MAX_CDS_BODY, create_app
from compensa.app.middleware import ApiKeys, BodyLimit, RequestId, SecurityHeaders

CASES = Path(__file__).resolve().parents[2] / "kb" / "cases"
JSON = {"content-type": "application/json"}
KEY = "k" * 24


def fastapi_of(app):
    while not hasattr(app, "state"):
        app = app.app
    return app


def without_consult_route(app):
    """The service's middleware around the FastAPI app, as create_app builds it but for ConsultRoute."""
    inner = fastapi_of(app)
    settings = inner.state.settings
    stack = BodyLimit(GZipMiddleware(inner, minimum_size=1024), MAX_BODY, {"/cds-services": MAX_CDS_BODY})
    stack = ApiKeys(stack, settings.api_keys) if settings.api_keys else stack
    return RequestId(SecurityHeaders(stack, settings.frame_ancestors))


def library_bodies(every: int = 9) -> list[bytes]:
    bodies = []
    for path in sorted(CASES.glob("*.yaml"))[::every]:
        case = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("case")
        if isinstance(case, dict):
            bodies.append(json.dumps(case, separators=(",", ":")).encode())
    return bodies


ODD = [
    (b'{"pain":["neck"]}', {"content-type": "application/x-www-form-urlencoded"}),
    (b'{"pain":["neck"]}', {}),
    (b'{"pain":["neck"]}', {"content-type": "application/json; charset=latin-1"}),
    (b'{"pain":["neck"]}', {"content-type": "Application/FHIR+JSON; charset=UTF-8"}),
    (b'{"pain":[1e999]}', JSON),
    (b'{"pain":["neck"],"name":"\\ud800"}', JSON),
    ('{"pain":["n\xe9ck"]}'.encode("latin-1"), JSON),
    (b'{"pain":["lower_back"],"red_flags":["saddle_anaesthesia"],"red_flags":[]}', JSON),
    (b"{}", {"content-type": "application/json", "content-length": "abc"}),
    (b"[]", JSON), (b"", JSON), (b"{", JSON),
    (b'{"pain":["nosuch"]}', JSON), (b'{"pain":["nosuch"],"strict":true}', JSON),
    (b'{"resourceType":"Patient"}', JSON),
    (b'{"resourceType":"QuestionnaireResponse","status":"entered-in-error"}', JSON),
    (b'{"history": ' + b"[" * 33 + b"]" * 33 + b"}", JSON),
    (b'{"history": ["' + b"x" * MAX_BODY + b'"]}', JSON),
    (b'{"pain":["lower_back"],"red_flags":["saddle_anaesthesia"]}', JSON),
]


def requests():
    for body in library_bodies():
        yield "POST", "/v1/consult", body, JSON
        yield "POST", "/v1/consult", body, {**JSON, "accept-encoding": "gzip"}
    for body, headers in ODD:
        yield "POST", "/v1/consult", body, headers
    yield "GET", "/v1/consult", b"", {}
    yield "POST", "/v1/consult/", b"{}", JSON
    yield "POST", "/v1/consult?strict=true", b'{"pain":["neck"]}', JSON


def assert_same_answers(app, extra: dict | None = None) -> int:
    ours = TestClient(app, raise_server_exceptions=False)
    route = TestClient(without_consult_route(app), raise_server_exceptions=False)
    count = 0
    for method, path, body, headers in requests():
        given = {"x-request-id": "same-1", **headers, **(extra or {})}
        a = ours.request(method, path, content=body, headers=given)
        b = route.request(method, path, content=body, headers=given)
        assert (a.status_code, a.headers.multi_items(), a.content) == (b.status_code, b.headers.multi_items(),
                                                                        b.content), (method, path, body[:60])
        count += 1
    return count


@pytest.fixture(scope="module")
def app():
    return create_app(max_engines=2)


def test_the_consult_route_answers_as_the_fastapi_route(app):
    assert _has_consult_route(app)
    assert assert_same_answers(app) > 30


def test_with_api_keys_refusals_and_answers_are_the_same():
    app = create_app(max_engines=2, api_keys=[KEY])
    for extra in ({}, {"x-api-key": KEY}, {"authorization": f"Bearer {KEY}"}, {"x-api-key": "z" * 24}):
        assert_same_answers(app, extra)


def test_with_an_audit_log_every_consultation_is_recorded_the_same(tmp_path):
    log = tmp_path / "audit.jsonl"
    app = create_app(max_engines=2, audit_path=str(log))
    ours = TestClient(app)
    route = TestClient(without_consult_route(app))
    for body in library_bodies(27):
        for client in (ours, route):
            assert client.post("/v1/consult", content=body, headers={**JSON, "x-request-id": "audit-1"}).status_code == 200
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    for line in lines:
        del line["time"]
    assert len(lines) == 2 * len(library_bodies(27)) and lines[0::2] == lines[1::2]


def test_an_unexpected_error_is_the_same_500_and_is_raised_for_the_server_to_log(monkeypatch):
    app = create_app(max_engines=2)
    consultant = fastapi_of(app).state.consultant

    def boom(case, strict=False):
        raise RuntimeError("leak: " + json.dumps(case))

    monkeypatch.setattr(consultant, "consult", boom)
    a = TestClient(app, raise_server_exceptions=False).post("/v1/consult", json={"pain": ["neck"]},
                                                            headers={"x-request-id": "boom-1"})
    b = TestClient(without_consult_route(app), raise_server_exceptions=False).post(
        "/v1/consult", json={"pain": ["neck"]}, headers={"x-request-id": "boom-1"})
    assert a.status_code == b.status_code == 500 and a.content == b.content and "leak" not in a.text
    assert a.headers.multi_items() == b.headers.multi_items()
    with pytest.raises(RuntimeError, match="leak"):  # re-raised, as Starlette's ServerErrorMiddleware does
        TestClient(app).post("/v1/consult", json={"pain": ["neck"]})


def test_under_a_root_path_the_fastapi_route_answers_with_the_same_bytes(app):
    body = library_bodies()[0]
    plain = TestClient(app).post("/v1/consult", content=body, headers=JSON)
    rooted = TestClient(app, root_path="/api").post("/api/v1/consult", content=body, headers=JSON)
    assert rooted.status_code == plain.status_code == 200 and rooted.content == plain.content


def test_consultations_run_in_the_event_loops_thread(monkeypatch):
    app = create_app(max_engines=2)
    consultant = fastapi_of(app).state.consultant
    real, seen = consultant.consult, []

    def spy(case, strict=False):
        seen.append(threading.current_thread().name)
        return real(case, strict)

    monkeypatch.setattr(consultant, "consult", spy)
    loop_threads = []

    @fastapi_of(app).get("/_thread_of_the_loop")
    async def where():  # an async route runs in the loop's thread
        loop_threads.append(threading.current_thread().name)
        return {}

    with TestClient(app) as client:
        assert client.get("/_thread_of_the_loop").status_code == 200
        assert client.post("/v1/consult", json={"pain": ["neck"]}).status_code == 200
        assert client.post("/v1/triage", json={"pain": ["neck"]}).status_code == 200
    assert seen == loop_threads * 2


def _has_consult_route(app) -> bool:
    while not hasattr(app, "state"):
        if isinstance(app, ConsultRoute):
            return True
        app = app.app
    return False


@pytest.mark.parametrize("red_flags", [["saddle_anaesthesia"], [{"id": "saddle_anaesthesia", "present": "unsure"}]])
def test_a_red_flag_through_the_consult_route_withholds_the_plan(app, red_flags):
    """The plain-ASGI path is an input path of its own: a present or unsure emergency flag stops the plan."""
    body = {"pain": ["lower_back", "buttock:left"], "findings": ["anterior_pelvic_tilt"],
            "tests": ["thomas_test:positive"], "red_flags": red_flags}
    answer = TestClient(app).post("/v1/consult", json=body)
    assert answer.status_code == 200
    report = answer.json()
    assert report["plan_withheld"] is True and report["targets"] == []
    assert report["triage"]["level"] == "emergency" and report["triage"]["red_flags"]
