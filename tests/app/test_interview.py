"""`compensa interview` (scripted through stdin) and `POST /v1/interview`."""

from __future__ import annotations

import errno
import json
import os

import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient

from compensa.app import cli_interview
from compensa.app.cli_interview import interview
from compensa.engine import consultant_for

KNEE = {"pain": [{"site": "lateral_knee", "side": "right"}]}


def _screened(case: dict) -> dict:
    asks = consultant_for().consult(case).to_dict()["triage"]["not_screened"]
    return dict(case, red_flags=[{"id": f, "present": False} for f in asks])


@pytest.fixture()
def case_file(tmp_path):
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(_screened(KNEE)))
    return path


def test_scripted_session_asks_answers_and_saves(tmp_path, case_file):
    out = tmp_path / "answered.yaml"
    result = CliRunner().invoke(interview, ["--case", str(case_file), "--save", str(out)],
                                input="positive\nskip\nno\nq\n")
    assert result.exit_code == 0, result.output
    assert "Q1 [" in result.output and "why:" in result.output and "ranking:" in result.output
    saved = yaml.safe_load(out.read_text())
    answered = len(saved.get("tests", [])) + len(saved.get("findings", [])) + len(saved.get("history", []))
    assert answered == 2  # the skip adds nothing
    assert saved["red_flags"] == _screened(KNEE)["red_flags"]
    assert consultant_for().parse(saved)  # a valid case


def test_red_flags_are_asked_first_from_pain_only_and_end_of_input_saves(tmp_path):
    out = tmp_path / "answered.json"
    result = CliRunner().invoke(interview, ["--save", str(out)], input="lateral_knee:right\nno\nunsure\n")
    assert result.exit_code == 0, result.output
    assert "[red_flag]" in result.output
    saved = json.loads(out.read_text())
    assert saved["pain"] == ["lateral_knee:right"]
    assert [f["present"] for f in saved["red_flags"]] == [False, "unsure"]


def test_a_line_not_understood_is_asked_again(case_file):
    result = CliRunner().invoke(interview, ["--case", str(case_file)], input="maybe\nquit\n")
    assert result.exit_code == 0 and "not understood" in result.output


def test_the_interview_stops_itself_on_an_alarm(tmp_path):
    path = tmp_path / "alarm.yaml"
    path.write_text(yaml.safe_dump({"pain": ["lower_back"], "red_flags": ["saddle_anaesthesia"]}))
    result = CliRunner().invoke(interview, ["--case", str(path)], input="")
    assert result.exit_code == 0 and "Stopping:" in result.output and "medical care" in result.output


@pytest.mark.parametrize("args", [["--save", "out.txt"], ["--save", "no/such/folder/out.yaml"],
                                  ["--case", "missing.yaml"]])
def test_bad_input_exits_2(tmp_path, args, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(interview, args, input="lateral_knee\nq\n")
    assert result.exit_code == 2, result.output
    assert "error:" in result.output


def test_a_bad_case_exits_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"pain": ["lateral_knee"], "red_flag": []}))
    assert CliRunner().invoke(interview, ["--case", str(path)], input="q\n").exit_code == 2


def test_a_failed_write_exits_1_and_leaves_no_temporary_file(tmp_path, case_file, monkeypatch):
    def full(*_args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    out = tmp_path / "answered.yaml"
    result = CliRunner().invoke(interview, ["--case", str(case_file), "--save", str(out)], input="q\n")
    assert result.exit_code == 1 and "could not be written" in result.output
    assert not out.exists() and not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_parse_answer_line():
    test = {"kind": "test", "answers": ["positive", "negative"], "side": "right"}
    assert cli_interview.parse_answer_line("y", test) == ("positive", None)
    assert cli_interview.parse_answer_line("negative:left", test) == ("negative", "left")
    assert cli_interview.parse_answer_line("", test) == ("skip", None)
    assert cli_interview.parse_answer_line("unsure", test) is None  # only red flags take unsure
    assert cli_interview.parse_answer_line("yes:up", test) is None


# --- HTTP ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client():
    from compensa.app.http import create_app

    return TestClient(create_app(max_engines=2), raise_server_exceptions=False)


def test_http_interview_red_flag_first_then_assessment(client):
    data = client.post("/v1/interview", json={"case": KNEE}).json()
    assert data["question"]["kind"] == "red_flag" and data["should_stop"] is False
    assert {"id", "kind", "text", "how_to", "side"} <= set(data["question"]) and "ranking" in data
    skipped = client.post("/v1/interview", json={"case": KNEE, "skipped": [data["question"]["id"]]}).json()
    assert skipped["question"]["id"] != data["question"]["id"]
    after = client.post("/v1/interview", json={"case": _screened(KNEE), "skipped": []}).json()
    assert after["question"]["kind"] in ("test", "finding", "history") and after["rationale"]


@pytest.mark.parametrize("body", [[1, 2], {"case": KNEE, "skiped": []}, {"skipped": []},
                                  {"case": KNEE, "skipped": "ober_test"}, {"case": KNEE, "skipped": [3]},
                                  {"case": {"pain": ["lateral_knee"], "red_flag": []}},
                                  {"case": {"pain": ["lateral_kneee"]}, "strict": True}])
def test_http_interview_bad_input_is_422(client, body):
    response = client.post("/v1/interview", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_terminal_session_with_questionary(tmp_path, case_file, monkeypatch):
    """In a terminal the questions go through questionary; Ctrl-C (``ask()`` gives None) keeps the answers."""
    import questionary

    replies = iter(["positive", "left", None])

    class Prompt:
        def __init__(self, *args, **kwargs):
            pass

        def ask(self):
            return next(replies)

    monkeypatch.setattr(questionary, "select", Prompt)
    monkeypatch.setattr(cli_interview, "_Lines", lambda stream: cli_interview._Terminal())
    out = tmp_path / "answered.yaml"
    result = CliRunner().invoke(interview, ["--case", str(case_file), "--save", str(out)])
    assert result.exit_code == 0, result.output
    saved = yaml.safe_load(out.read_text())
    answered = saved.get("tests", []) + saved.get("findings", [])
    assert len(answered) == 1 and answered[0]["side"] == "left"
