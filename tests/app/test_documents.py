"""``compensa handout`` / ``compensa report`` and ``POST /v1/handout`` / ``POST /v1/clinician-report``."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from compensa.app import cli as cli_module
from compensa.app import cli_documents, http
from compensa.app.cli_documents import handout_command, report_command

SAMPLES = Path(__file__).resolve().parents[2] / "app" / "samples"
DEMO = SAMPLES / "demo.yaml"
RED_FLAG = {"pain": [{"site": "lower_back"}], "red_flags": [{"id": "saddle_anaesthesia", "present": True}]}


def _cli():
    """The real group, with the document commands added when compensa.app.cli does not add them yet."""
    for command in (handout_command, report_command):
        if command.name not in cli_module.cli.commands:
            cli_module.cli.add_command(command)
    return cli_module.main


# --- command line ---------------------------------------------------------------------------

def test_handout_html_and_pdf(tmp_path, capsys):
    main = _cli()
    assert main(["handout", str(DEMO), "-o", str(tmp_path / "plan.html")]) == 0
    html = (tmp_path / "plan.html").read_text(encoding="utf-8")
    assert "Side-lying hip abduction" in html and "How to progress" in html
    pytest.importorskip("weasyprint")
    assert main(["handout", str(DEMO), "-o", str(tmp_path / "plan.pdf")]) == 0
    assert (tmp_path / "plan.pdf").read_bytes().startswith(b"%PDF-")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".compensa-")]  # no temporary file left


def test_report_command_writes_the_clinician_report(tmp_path):
    main = _cli()
    assert main(["report", str(DEMO), "-o", str(tmp_path / "report.html"), "--no-graph"]) == 0
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Likely root imbalances" in html and "Explanation graph" not in html


def test_red_flag_case_file_gives_the_care_advice(tmp_path):
    case = tmp_path / "case.json"
    case.write_text(json.dumps(RED_FLAG))
    assert _cli()(["handout", str(case), "-o", str(tmp_path / "plan.html")]) == 0
    html = (tmp_path / "plan.html").read_text(encoding="utf-8")
    assert "No exercises for now" in html and "Your exercises" not in html


@pytest.mark.parametrize("args, message", [
    (["handout", str(DEMO), "-o", "plan.docx"], "must end in .pdf or .html"),
    (["handout", str(DEMO), "-o", "no-such-folder/plan.html"], "does not exist"),
    (["handout", "missing.yaml", "-o", "plan.html"], "missing.yaml"),
    (["report", str(DEMO)], "Missing option"),
])
def test_bad_input_exits_2(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert _cli()(args) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_case_that_is_not_a_mapping_exits_2(tmp_path, capsys):
    case = tmp_path / "case.yaml"
    case.write_text("- lateral_knee\n")
    assert _cli()(["handout", str(case), "-o", str(tmp_path / "p.html")]) == 2
    assert "mapping" in capsys.readouterr().err


def test_an_unknown_section_exits_2(tmp_path, capsys):
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"pain": ["lateral_knee"], "red_flag": [{"id": "fever", "present": True}]}))
    assert _cli()(["handout", str(case), "-o", str(tmp_path / "p.html")]) == 2
    assert "red_flag" in capsys.readouterr().err


def test_disk_full_exits_1(tmp_path, monkeypatch, capsys):
    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cli_documents, "atomic_write", full)
    assert _cli()(["handout", str(DEMO), "-o", str(tmp_path / "plan.html")]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert not (tmp_path / "plan.html").exists()


# --- HTTP -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client():
    return TestClient(http.create_app())


def _demo_case() -> dict:
    import yaml

    return yaml.safe_load(DEMO.read_text())


def test_http_handout_html(client):
    response = client.post("/v1/handout?format=html", json=_demo_case())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "Side-lying hip abduction" in response.text and "When to stop and seek care" in response.text


def test_http_pdfs(client):
    pytest.importorskip("weasyprint")
    for path in ("/v1/handout", "/v1/clinician-report?format=pdf"):
        response = client.post(path, json=_demo_case())
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf"
        assert response.content.startswith(b"%PDF-")


def test_http_red_flag_handout(client):
    response = client.post("/v1/handout?format=html", json=RED_FLAG)
    assert response.status_code == 200
    assert "No exercises for now" in response.text and "How to progress" not in response.text


@pytest.mark.parametrize("path, body", [
    ("/v1/handout?format=html", {"pain": ["lateral_knee"], "red_flag": []}),   # unknown section
    ("/v1/clinician-report?format=html", {"pain": [{"site": "lateral_knee", "side": "up"}]}),
    ("/v1/handout?format=docx", {"pain": ["lateral_knee"]}),
])
def test_http_bad_input_is_422(client, path, body):
    response = client.post(path, json=body)
    assert response.status_code == 422, response.text


def test_http_escapes_the_case_name(client):
    case = {**_demo_case(), "name": "<script>alert(1)</script>"}
    response = client.post("/v1/clinician-report?format=html", json=case)
    assert response.status_code == 200
    assert "<script>" not in response.text and "&lt;script&gt;" in response.text


def test_html_over_http_links_its_stylesheet_so_the_csp_keeps_its_look():
    from compensa.app.http import create_app

    client = TestClient(create_app())
    page = client.post("/v1/handout?format=html", json={"pain": ["lateral_knee:right"],
                                                        "tests": ["trendelenburg:positive:right"]})
    assert page.status_code == 200 and "<style>" not in page.text
    assert '<link rel="stylesheet" href="/v1/documents.css">' in page.text
    assert "style-src 'self'" in page.headers["content-security-policy"]
    css = client.get("/v1/documents.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css") and "{" in css.text
