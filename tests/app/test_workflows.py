"""The workflow commands and routes (issue 15): whatif and compare on the command line and over HTTP."""

from __future__ import annotations

import json

import pytest
import yaml
from fastapi.testclient import TestClient

from compensa.app.cli import main

FIRST = {"date": "2026-06-01", "pain": ["lateral_knee:right"], "findings": ["anterior_pelvic_tilt"],
         "tests": ["trendelenburg:positive:right", "ober_test:positive:right", "thomas_test:positive:both"]}
SECOND = {"date": "2026-07-15", "pain": ["lateral_knee:right"],
          "tests": ["trendelenburg:negative:right", "ober_test:positive:right", "thomas_test:negative:both"]}


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def visits(tmp_path):
    paths = []
    for name, case in (("v1.yaml", FIRST), ("v2.yaml", SECOND)):
        path = tmp_path / name
        path.write_text(yaml.safe_dump(case))
        paths.append(str(path))
    return paths


def test_whatif_on_the_command_line(capsys, visits):
    code, out, _ = run(capsys, "whatif", visits[0], "--add", "hip_abductor_strength:positive:right",
                       "--remove", "anterior_pelvic_tilt")
    assert code == 0 and "What changed and why" in out
    assert "Hip abductor strength positive (right) supports it" in out
    assert "no longer: Anterior pelvic tilt present supports it" in out
    code, out, _ = run(capsys, "whatif", visits[0], "--add", "saddle_anaesthesia", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["after"]["triage"] == "emergency" and data["after"]["targets"] == []


def test_whatif_refuses_an_unknown_term_and_needs_a_change(capsys, visits):
    code, _, err = run(capsys, "whatif", visits[0], "--add", "obr_test:positive")
    assert code == 2 and "ober_test" in err and "Traceback" not in err
    code, _, err = run(capsys, "whatif", visits[0])
    assert code == 2 and "--add or --remove" in err


def test_compare_on_the_command_line(capsys, visits):
    code, out, _ = run(capsys, "compare", visits[0], visits[1])
    assert code == 0 and "6 weeks apart" in out and "resolved: " in out and "Next review: 2027-01-15" in out
    assert "decision support" in out
    code, out, _ = run(capsys, "compare", visits[1], visits[0], "--format", "json")
    assert code == 0 and json.loads(out)["visits"][0]["date"] == "2026-06-01"


def test_compare_names_a_missing_file(capsys, visits, tmp_path):
    code, _, err = run(capsys, "compare", visits[0], str(tmp_path / "nope.yaml"))
    assert code == 2 and "nope.yaml" in err


@pytest.fixture(scope="module")
def client():
    from compensa.app.http import create_app

    return TestClient(create_app())


def test_whatif_over_http(client):
    response = client.post("/v1/whatif", json={"case": FIRST, "add": {"red_flags": ["saddle_anaesthesia"]}})
    assert response.status_code == 200
    body = response.json()
    assert body["before"]["triage"] == "routine" and body["after"]["plan_withheld"]
    assert client.post("/v1/whatif", json={"case": FIRST, "ad": {}}).status_code == 422
    assert client.post("/v1/whatif", json={"case": FIRST, "add": {"test": []}}).status_code == 422


def test_compare_over_http(client):
    response = client.post("/v1/compare", json={"visits": [SECOND, FIRST]})
    assert response.status_code == 200 and response.json()["weeks_between"] == 6
    assert client.post("/v1/compare", json={"visits": [FIRST]}).status_code == 422
    assert client.post("/v1/compare", json={"visits": [FIRST, SECOND], "extra": 1}).status_code == 422
