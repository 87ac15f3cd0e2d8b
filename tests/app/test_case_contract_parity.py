"""One case contract: the Python API, the command line and HTTP accept and refuse the same inputs
in the same way, with the same field paths and messages (issue 9: they used to disagree)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from compensa.app.cli import main
from compensa.app.http import create_app
from compensa.errors import json_loc
from compensa.engine import consult
from compensa.errors import CaseError

OK = "ok"

#: (name, case). Whether each is accepted is decided by the library; the other paths must agree.
INPUTS = [
    ("empty", {}),
    ("pain-name", {"pain": ["lower_back"]}),
    ("pain-alias", {"pain": ["low back"]}),
    ("pain-shorthand-side", {"pain": ["lateral_knee:right"]}),
    ("pain-mapping", {"pain": [{"site": "lateral_knee", "side": "left"}]}),
    ("pain-both", {"pain": [{"site": "lateral_knee", "side": "both"}]}),
    ("pain-side-null", {"pain": [{"site": "neck", "side": None}]}),
    ("pain-side-R", {"pain": [{"site": "neck", "side": "R"}]}),
    ("pain-side-bilateral", {"pain": [{"site": "neck", "side": "bilateral"}]}),
    ("pain-side-number", {"pain": [{"site": "neck", "side": 1}]}),
    ("pain-single-mapping", {"pain": {"site": "neck"}}),
    ("pain-single-string", {"pain": "neck"}),
    ("pain-number", {"pain": 7}),
    ("pain-item-number", {"pain": [5]}),
    ("pain-item-list", {"pain": [["neck"]]}),
    ("pain-unknown", {"pain": ["lateral_kne"]}),
    ("pain-empty-text", {"pain": [""]}),
    ("pain-too-long", {"pain": ["x" * 300]}),
    ("pain-bad-shorthand", {"pain": ["neck:left:extra"]}),
    ("pain-missing-site", {"pain": [{"side": "left"}]}),
    ("pain-unknown-field", {"pain": [{"site": "neck", "sidee": "left"}]}),
    ("pain-too-many", {"pain": ["lower_back"] * 101}),
    ("finding-name", {"findings": ["anterior_pelvic_tilt"]}),
    ("finding-absent", {"findings": [{"id": "knee_valgus", "present": False, "side": "right"}]}),
    ("finding-present-string", {"findings": [{"id": "knee_valgus", "present": "yes"}]}),
    ("finding-present-absent", {"findings": [{"id": "knee_valgus", "present": "absent"}]}),
    ("finding-present-number", {"findings": [{"id": "knee_valgus", "present": 0}]}),
    ("finding-present-unsure", {"findings": [{"id": "knee_valgus", "present": "unsure"}]}),
    ("finding-is-a-test", {"findings": ["ober_test"]}),
    ("test-shorthand", {"tests": ["ober_test:positive:right"]}),
    ("test-mapping", {"tests": [{"id": "thomas_test", "result": "negative"}]}),
    ("test-result-pos", {"tests": [{"id": "ober_test", "result": "pos"}]}),
    ("test-result-plus", {"tests": ["ober_test:+"]}),
    ("test-result-upper", {"tests": [{"id": "ober_test", "result": "Positive"}]}),
    ("test-result-bool", {"tests": [{"id": "ober_test", "result": True}]}),
    ("test-no-result", {"tests": ["ober_test"]}),
    ("test-no-result-mapping", {"tests": [{"id": "ober_test"}]}),
    ("test-too-many-parts", {"tests": ["ober_test:positive:right:x"]}),
    ("test-side-r", {"tests": ["ober_test:positive:r"]}),
    ("test-contradiction", {"tests": ["ober_test:positive:right", "ober_test:negative:right"]}),
    ("test-contradiction-both", {"tests": ["ober_test:positive:both", "ober_test:negative:left"]}),
    ("test-unknown", {"tests": [{"id": "obers", "result": "positive"}]}),
    ("test-id-number", {"tests": [{"id": 3, "result": "positive"}]}),
    ("flag-name", {"red_flags": ["fever"]}),
    ("flag-false", {"red_flags": [{"id": "saddle_anaesthesia", "present": False}]}),
    ("flag-unsure", {"red_flags": [{"id": "saddle_anaesthesia", "present": "unsure"}]}),
    ("flag-n", {"red_flags": [{"id": "saddle_anaesthesia", "present": "n"}]}),
    ("flag-off", {"red_flags": [{"id": "saddle_anaesthesia", "present": "off"}]}),
    ("flag-zero", {"red_flags": [{"id": "saddle_anaesthesia", "present": 0}]}),
    ("flag-zero-string", {"red_flags": [{"id": "saddle_anaesthesia", "present": "0"}]}),
    ("flag-on", {"red_flags": [{"id": "saddle_anaesthesia", "present": "on"}]}),
    ("flag-t", {"red_flags": [{"id": "saddle_anaesthesia", "present": "t"}]}),
    ("flag-one", {"red_flags": [{"id": "saddle_anaesthesia", "present": 1}]}),
    ("flag-absent-string", {"red_flags": [{"id": "saddle_anaesthesia", "present": "absent"}]}),
    ("flag-null", {"red_flags": [{"id": "saddle_anaesthesia", "present": None}]}),
    ("flag-unknown", {"red_flags": ["sadle_anaestesia"]}),
    ("flag-shorthand-colon", {"red_flags": ["fever:yes"]}),
    ("flag-side", {"red_flags": [{"id": "fever", "side": "left"}]}),
    ("history-name", {"history": ["runner"]}),
    ("history-absent", {"history": [{"id": "runner", "present": False}]}),
    ("history-unknown", {"history": ["lots of sit-ups"]}),
    ("diagnosis-name", {"diagnoses": ["spondylolisthesis"]}),
    ("diagnosis-unknown", {"diagnoses": ["spondylolysthesis"]}),
    ("unknown-section", {"pains": ["lower_back"]}),
    ("red-flag-typo-section", {"red_flag": [{"id": "fever", "present": True}]}),
    ("name-number", {"pain": ["neck"], "name": 5}),
    ("notes-ok", {"pain": ["neck"], "notes": "desk job"}),
    ("notes-too-long", {"pain": ["neck"], "notes": "x" * 2001}),
    ("everything", {"pain": ["lateral_knee:right"], "findings": [{"id": "knee_valgus", "side": "right"}],
                    "tests": ["ober_test:positive:right", "trendelenburg:positive:right"],
                    "red_flags": [{"id": "saddle_anaesthesia", "present": False}], "history": ["runner"],
                    "name": "knee"}),
    ("several-problems", {"pain": ["lateral_kne"], "tests": [{"id": "ober_test", "result": "x"}], "painn": []}),
]


def library(case) -> tuple[str, list[tuple[str, str]]]:
    try:
        report = consult(case)
    except CaseError as exc:
        return "refused", sorted((p.where, p.message) for p in exc.problems)
    return OK, [("triage", report.triage.level), ("targets", str(len(report.targets)))]


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def test_the_table_covers_every_section_and_both_outcomes():
    outcomes = [library(case)[0] for _, case in INPUTS]
    assert len(INPUTS) >= 60 and outcomes.count(OK) >= 15 and outcomes.count("refused") >= 40


@pytest.mark.parametrize(("name", "case"), INPUTS, ids=[n for n, _ in INPUTS])
def test_http_agrees_with_the_library(client, name, case):
    outcome, detail = library(case)
    response = client.post("/v1/consult", content=json.dumps(case), headers={"content-type": "application/json"})
    if outcome == OK:
        assert response.status_code == 200, response.text
        report = response.json()
        assert [("triage", report["triage"]["level"]), ("targets", str(len(report["targets"])))] == detail
    else:
        assert response.status_code == 422, response.text
        got = sorted((tuple(d["loc"]), d["msg"]) for d in response.json()["detail"])
        assert got == sorted((tuple(json_loc(where)), message) for where, message in detail)


@pytest.mark.parametrize(("name", "case"), INPUTS, ids=[n for n, _ in INPUTS])
def test_cli_agrees_with_the_library(tmp_path, capsys, name, case):
    outcome, detail = library(case)
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case), encoding="utf-8")
    code = main(["consult", str(path), "--format", "json"])
    out, err = capsys.readouterr()
    if outcome == OK:
        assert code == 0, err
        report = json.loads(out)
        assert [("triage", report["triage"]["level"]), ("targets", str(len(report["targets"])))] == detail
    else:
        assert code == 2 and out == "" and "Traceback" not in err
        lines = {line for line in err.splitlines() if line.startswith("error: ")}
        for where, message in detail:
            assert any(line.startswith(f"error: {where + ': ' if where else ''}{message}") for line in lines), (
                where, message, err)
        assert len(lines) == len(detail), err


def test_cli_flags_go_through_the_same_validator(capsys):
    assert main(["consult", "--pain", "neck:R"]) == 2
    assert "pain[0].side: side must be left, right or both (did you mean 'right'?)" in capsys.readouterr().err
    assert main(["consult", "--pain", "lower_back", "--unsure-red-flag", "saddle_anaesthesia", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["triage"]["level"] == "emergency" and report["targets"] == [] and report["plan_withheld"]
    assert report["triage"]["unsure"] == ["saddle_anaesthesia"]


def test_openapi_describes_what_is_accepted(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    case = schemas["Case"]
    assert case["additionalProperties"] is False and set(case["properties"]) >= {"pain", "tests", "red_flags"}
    flag = schemas["RedFlagItem"]["properties"]["present"]
    assert {"type": "boolean"} in flag["anyOf"] and {"const": "unsure", "type": "string"} in flag["anyOf"]
    assert schemas["TestItem"]["properties"]["result"]["enum"] == ["positive", "negative"]
    side = schemas["PainItem"]["properties"]["side"]
    assert {"enum": ["left", "right", "both"], "type": "string"} in side["anyOf"]
    body = spec["paths"]["/v1/consult"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Case"}
    explain = schemas["ExplainRequest"]
    assert explain["not"] == {"required": ["target", "why_not"]}
    assert "/docs" not in spec["paths"] and client.get("/docs").status_code == 404
