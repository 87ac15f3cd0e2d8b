"""The HTTP API: contract, errors, limits, safety of logs, and concurrency."""

from __future__ import annotations

import json
import logging
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from compensa.app.http import MAX_BODY, create_app
from compensa.engine import consult, load_kb


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app(max_engines=4), raise_server_exceptions=False)


KNEE = {"pain": [{"site": "lateral_knee", "side": "right"}],
        "tests": [{"id": "trendelenburg", "result": "positive", "side": "right"}, "ober_test:positive:right"]}


def test_consult_returns_the_contract_report(client):
    response = client.post("/v1/consult", json=KNEE)
    assert response.status_code == 200 and response.headers["x-request-id"]
    data = response.json()
    assert data["kb_version"] == load_kb().version_string
    assert data["root_causes"][0]["id"] == "lateral_hip_weakness" and data["disclaimer"]
    assert data == json.loads(json.dumps(consult(KNEE).to_dict()))


def test_triage_only(client):
    data = client.post("/v1/triage", json={"pain": ["lower_back"], "red_flags": ["saddle_anaesthesia"]}).json()
    assert data["level"] == "emergency" and data["red_flags"] == ["saddle_anaesthesia"]


def test_explain_json_svg_dot(client):
    body = {**KNEE, "target": "gluteus_medius"}
    data = client.post("/v1/explain", json=body).json()
    assert data["explanation"]["is_target"] and "WHY GLUTEUS MEDIUS" in data["text"] and data["graph"]["nodes"]
    dot = client.post("/v1/explain?format=dot", json=KNEE)
    assert dot.headers["content-type"].startswith("text/vnd.graphviz") and dot.text.startswith("digraph")
    svg = client.post("/v1/explain?format=svg", json=KNEE)
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith(("image/svg+xml", "text/vnd.graphviz"))


def test_kb_and_vocabulary_and_health(client):
    assert client.get("/v1/kb").json()["counts"]["links"] == len(load_kb().links)
    vocab = client.get("/v1/kb/vocabulary").json()
    assert any(t["id"] == "ober_test" and t["how"] for t in vocab["test"])
    assert client.get("/healthz").json()["status"] == "ok"


def test_openapi_documents_every_field_with_examples(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert {"/v1/consult", "/v1/triage", "/v1/explain", "/v1/kb", "/v1/kb/vocabulary", "/healthz"} <= set(paths)
    schemas = spec["components"]["schemas"]
    assert schemas["Case"].get("examples") and schemas["ReportData"]["properties"]["targets"]["description"]
    assert "examples" in schemas["PainItem"]["properties"]["site"]


@pytest.mark.parametrize(("body", "loc", "text", "suggestion"), [
    ({"pain": ["lateral_kne"], "strict": True}, ["body", "pain", 0, "site"], "unknown pain site 'lateral_kne'",
     "lateral_knee"),
    ({"tests": [{"id": "ober_test", "result": "maybe"}]}, ["body", "tests", 0, "result"], "", None),
    ({"pain": [{"site": "neck", "sidee": "left"}]}, ["body", "pain", 0, "sidee"], "unknown field 'sidee'", "side"),
    ({"painn": []}, ["body", "painn"], "unknown case section 'painn'", "pain"),
    ({"pain": [5]}, ["body", "pain", 0], "must be a name or a mapping", None),
    ({"findings": ["ober_test"], "strict": True}, ["body", "findings", 0, "id"], "belongs under 'tests'", None),
])
def test_bad_input_is_422_with_path_value_and_suggestions(client, body, loc, text, suggestion):
    response = client.post("/v1/consult", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    match = [d for d in detail if d["loc"] == loc]
    assert match, detail
    assert text in match[0]["msg"]
    if suggestion:
        assert suggestion in match[0]["suggestions"]


def test_oversize_body_is_413(client):
    response = client.post("/v1/consult", content=b"{" + b" " * (MAX_BODY + 10) + b"}",
                           headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_absurd_list_length_is_422(client):
    response = client.post("/v1/consult", json={"history": ["runner"] * 5000})
    assert response.status_code in (413, 422)


def test_unexpected_error_is_500_with_request_id_and_no_patient_data_in_logs(client, caplog, monkeypatch):
    inner = client.app
    while not hasattr(inner, "state"):  # through the ASGI middleware to the FastAPI app
        inner = inner.app
    consultant = inner.state.consultant

    def boom(case):
        raise RuntimeError("leak: " + json.dumps(case))

    monkeypatch.setattr(consultant, "consult", boom)
    with caplog.at_level(logging.INFO):
        response = client.post("/v1/consult", json={"pain": ["lower_back"], "name": "Jane Doe 1970-01-01"})
    assert response.status_code == 500
    rid = response.json()["request_id"]
    assert rid and "leak" not in response.text and "Jane" not in response.text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert rid in logged and "Jane Doe" not in logged and '"lower_back"' not in logged


CASES = [
    {"pain": ["lower_back"], "findings": ["anterior_pelvic_tilt"], "tests": ["thomas_test:positive"]},
    {"pain": ["lateral_knee:left"], "tests": ["trendelenburg:positive:left"]},
    {"pain": ["neck", "head"], "findings": ["forward_head"]},
    {"pain": ["heel:right"], "findings": ["overpronation:right"], "history": ["runner"]},
    {"pain": ["lower_back"], "red_flags": ["fever"]},
    {"pain": ["lower_back"], "red_flags": ["saddle_anaesthesia"]},
    {"pain": ["shoulder:right"], "tests": ["hawkins_kennedy_test:positive:right", "pectoralis_minor_length:positive:right"]},
    {"pain": ["buttock:left"], "tests": ["piriformis_test:positive:left", "straight_leg_raise:negative:left"]},
]


def test_concurrent_consultations_never_see_each_others_facts(client):
    expected = [client.post("/v1/consult", json=c).json() for c in CASES]
    jobs = [i for i in range(len(CASES)) for _ in range(12)]
    random.Random(3).shuffle(jobs)
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda i: (i, client.post("/v1/consult", json=CASES[i]).json()), jobs))
    for i, data in results:
        assert data == expected[i]


@pytest.mark.parametrize(("name", "body", "headers", "status"), [
    ("form-encoded", b'{"pain":["neck"]}', {"content-type": "application/x-www-form-urlencoded"}, 415),
    ("text-plain", b'{"pain":["neck"]}', {"content-type": "text/plain"}, 415),
    ("latin-1-charset", b'{"pain":["neck"]}', {"content-type": "application/json; charset=latin-1"}, 415),
    ("infinite-number", b'{"pain":[1e999]}', {"content-type": "application/json"}, 422),
    ("unpaired-surrogate", b'{"pain":["neck"],"name":"\\ud800"}', {"content-type": "application/json"}, 422),
    ("huge-integer", b'{"pain":[' + b"9" * 5000 + b"]}", {"content-type": "application/json"}, 422),
    ("not-utf8", '{"pain":["n\xe9ck"]}'.encode("latin-1"), {"content-type": "application/json"}, 422),
    ("duplicate-key", b'{"pain":["lower_back"],"red_flags":["saddle_anaesthesia"],"red_flags":[]}',
     {"content-type": "application/json"}, 422),
    ("bad-content-length", b"{}", {"content-type": "application/json", "content-length": "abc"}, 400),
])
def test_odd_bodies_get_clear_4xx_never_500(client, name, body, headers, status):
    for path in ("/v1/consult", "/v1/triage", "/v1/explain"):
        response = client.post(path, content=body, headers=headers)
        assert response.status_code == status, (path, response.text)
        assert "internal error" not in response.text


def test_chunked_body_over_the_limit_is_413(client):
    def chunks():
        yield b'{"history": ['
        for _ in range(20000):
            yield b'"runner",'
        yield b'"runner"]}'

    assert client.post("/v1/consult", content=chunks(), headers={"content-type": "application/json"}).status_code == 413


def test_graph_formats_validate_the_target_too(client):
    response = client.post("/v1/explain?format=svg", json={"pain": ["neck"], "target": "nosuchmuscle"})
    assert response.status_code == 422 and "unknown target" in response.text


def test_consult_bytes_are_the_reports_contract_json(client):
    # serialised once from the typed record: the same bytes json.dumps of to_dict() gives, as JSON
    response = client.post("/v1/consult", json=KNEE)
    assert response.headers["content-type"] == "application/json"
    expected = json.dumps(consult(KNEE).to_dict(), ensure_ascii=False, separators=(",", ":"))
    assert response.content == expected.encode("utf-8")


@pytest.mark.parametrize(("body", "too_deep"), [
    ('{"history": ' + "[" * 31 + "]" * 31 + "}", False),                # 32 levels: the limit
    ('{"history": ' + "[" * 32 + "]" * 32 + "}", True),                 # 33
    ("[" * 50_000, True),                                                # unclosed and deep
    ('{"name": "' + "[{" * 100 + '", "pain": ["neck"]}', False),         # brackets in a string do not count
    ('{"name": "\\"' + "[" * 100 + '", "pain": ["neck"]}', False),       # nor after an escaped quote
])
def test_json_nesting_is_limited_before_parsing(client, body, too_deep):
    response = client.post("/v1/consult", content=body.encode(), headers={"content-type": "application/json"})
    assert ("nested deeper than" in response.text) is too_deep, response.text
    assert response.status_code == (422 if too_deep or "history" in body else 200)


def test_consultations_run_one_at_a_time_per_worker_and_probes_still_answer(monkeypatch):
    import threading
    import time

    app = create_app(max_engines=4)
    inner = app
    while not hasattr(inner, "state"):
        inner = inner.app
    consultant, real = inner.state.consultant, inner.state.consultant.consult
    running, most, lock = 0, 0, threading.Lock()

    def slow(case, strict=False):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return real(case, strict)

    monkeypatch.setattr(consultant, "consult", slow)
    with TestClient(app) as client, ThreadPoolExecutor(max_workers=8) as pool:  # one event loop, as a worker
        replies = [pool.submit(client.post, "/v1/consult" if i % 2 else "/v1/triage", json=KNEE) for i in range(8)]
        time.sleep(0.1)
        assert client.get("/healthz").status_code == 200  # not stuck behind the queued consultations
        assert [r.result().status_code for r in replies] == [200] * 8
    assert most == 1


def test_large_responses_are_gzipped_for_clients_that_ask_and_plain_for_others():
    """The page's first load (vocabulary, body atlas, scripts) travels compressed; programs that do not
    send Accept-Encoding get plain JSON."""
    import gzip as gz

    from compensa.app.http import create_app

    client = TestClient(create_app())
    plain = client.get("/v1/kb/vocabulary", headers={"accept-encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    raw = client.get("/v1/kb/vocabulary", headers={"accept-encoding": "gzip"})
    assert raw.headers.get("content-encoding") == "gzip"
    assert raw.json() == plain.json()  # httpx decodes it: the same document
    with client.stream("GET", "/v1/body-atlas", headers={"accept-encoding": "gzip"}) as streamed:
        body = b"".join(streamed.iter_raw())
    assert streamed.headers.get("content-encoding") == "gzip" and len(body) < len(gz.decompress(body)) / 2
