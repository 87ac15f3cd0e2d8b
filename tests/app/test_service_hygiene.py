"""Service hygiene: security headers on the page, no third-party assets, request ids on every answer,
and an append-only audit log that holds ids, levels and a hash — never free text."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from compensa.app.audit import case_hash
from compensa.app.http import MAX_BODY, create_app

CASE = {"pain": ["lateral_knee:right"], "tests": ["ober_test:positive:right", "trendelenburg:positive:right"],
        "name": "Jane Doe", "notes": "lives at 1 High Street"}


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def test_the_page_sends_csp_nosniff_and_frame_ancestors(client):
    page = client.get("/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'self'" in csp and "object-src 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert client.get("/v1/kb").headers["x-content-type-options"] == "nosniff"


def test_frame_ancestors_come_from_a_setting():
    page = TestClient(create_app(frame_ancestors="'self' https://ehr.example.org")).get("/")
    assert "frame-ancestors 'self' https://ehr.example.org" in page.headers["content-security-policy"]


def test_the_page_loads_nothing_from_other_origins(client):
    html = client.get("/").text
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404


@pytest.mark.parametrize(("path", "kwargs"), [
    ("/healthz", {}),
    ("/v1/consult", {"json": {"pain": ["neck"]}}),
    ("/v1/consult", {"json": {"pain": ["nekc"]}}),
    ("/v1/consult", {"content": b"{" + b" " * (MAX_BODY + 1) + b"}", "headers": {"content-type": "application/json"}}),
    ("/v1/consult", {"content": b"x", "headers": {"content-type": "text/plain"}}),
    ("/nowhere", {}),
])
def test_every_answer_carries_the_clients_request_id(client, path, kwargs):
    headers = {**kwargs.pop("headers", {}), "x-request-id": "ehr-42.a:b"}
    method = client.get if path in ("/healthz", "/nowhere") else client.post
    response = method(path, headers=headers, **kwargs)
    assert response.headers["x-request-id"] == "ehr-42.a:b"


@pytest.mark.parametrize("given", ["", "has space", "x" * 65, "<script>", "a\u00e9"])
def test_an_unsafe_request_id_is_replaced_by_a_generated_one(client, given):
    response = client.get("/healthz", headers={"x-request-id": given.encode("utf-8")})
    rid = response.headers["x-request-id"]
    assert rid != given and re.fullmatch(r"[0-9a-f]{16}", rid)


def test_the_audit_log_records_ids_levels_and_a_hash_only(tmp_path):
    log = tmp_path / "audit.jsonl"
    client = TestClient(create_app(audit_path=str(log)))
    report = client.post("/v1/consult", json=CASE, headers={"x-request-id": "visit-7"}).json()
    client.post("/v1/consult", json={"pain": ["lower_back"], "red_flags": ["saddle_anaesthesia"]})
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == 2
    first = lines[0]
    assert first["request_id"] == "visit-7" and first["kb_version"] == report["kb_version"]
    assert first["case_sha256"] == case_hash(report["case"]) and first["triage"] == "routine"
    assert first["top_roots"][0] == report["root_causes"][0]["id"]
    assert {t.split(":")[1] for t in first["targets"]} == {t["muscle"] for t in report["targets"]}
    assert lines[1]["triage"] == "emergency" and lines[1]["targets"] == []
    text = log.read_text()
    assert "Jane" not in text and "High Street" not in text


def test_an_audit_log_that_cannot_be_written_gives_503_not_unrecorded_advice(tmp_path, monkeypatch):
    from compensa.app import audit

    client = TestClient(create_app(audit_path=str(tmp_path / "audit.jsonl")))

    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(audit.os, "write", full)
    response = client.post("/v1/consult", json=CASE)
    assert response.status_code == 503 and response.headers["retry-after"]
    assert "root_causes" not in response.text


def test_serve_refuses_an_audit_log_it_cannot_open(tmp_path, capsys):
    from compensa.app.cli import main

    code = main(["serve", "--port", "0", "--audit", str(tmp_path / "missing-folder" / "audit.jsonl")])
    assert code == 1 and "cannot open the audit log" in capsys.readouterr().err
