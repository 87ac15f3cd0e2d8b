"""`compensa quiz` (scripted through stdin), `POST /v1/quiz`, `GET /v1/kb/entries/{id}` and the two pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from compensa.app import cli_quiz
from compensa.app.cli_quiz import quiz

ITBS = "lq_itbs_runner_weak_abductors"
STATIC = Path(cli_quiz.__file__).parent / "static"


# --- CLI ---------------------------------------------------------------------------------------------

def _run(args: list[str], lines: str):
    return CliRunner().invoke(quiz, args, input=lines)


def test_scripted_session_asks_answers_scores_and_keeps_a_running_score():
    result = _run(["--case", ITBS, "--seed", "1"],
                  "ask ober_test\nask Thomas test\n"
                  "answer lateral_hip_weakness strengthen:gluteus_medius\n"
                  "next\nanswer none\nquit\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "with pain at: outside of the knee (right)" in out
    assert ITBS not in out.split("Score:")[0]  # the case id names the answer: only shown with the score
    assert "Ober test: positive (right)" in out and "Thomas test: not done" in out
    assert "Score: 2 / 2" in out and "HOW THE CONCLUSIONS WERE REACHED" in out
    assert "Running score: 2 / 2 over 1 case(s)" in out
    assert re.search(r"Final score: [\d.]+ / 4 over 2 case\(s\)", out)


def test_wrong_root_and_harmful_pick_are_explained():
    result = _run(["--case", ITBS], "answer upper_crossed_syndrome strengthen:tensor_fasciae_latae\nquit\n")
    assert result.exit_code == 0, result.output
    assert "root: wrong" in result.output and "HARMFUL picks: strengthen tensor_fasciae_latae" in result.output
    assert "WHY NOT UPPER CROSSED SYNDROME?" in result.output and "WHY GLUTEUS MEDIUS?" in result.output


def test_bad_commands_and_terms_are_reported_and_the_session_goes_on():
    result = _run(["--case", ITBS], "dance\nask ober_tset\nanswer lateral_hip_weaknes\n"
                  "answer lateral_hip_weakness strengthen:gluteus_medius\nanswer none\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "not understood: dance" in out and "did you mean 'ober_test'" in out
    assert "answer.root: unknown root imbalance" in out and "Score: 2 / 2" in out
    assert "already answered" in out and "Final score: 2 / 2 over 1 case(s)" in out  # end of input ends it


def test_a_region_session_stays_in_the_region_and_a_seed_repeats_it():
    script = "next\n" * 3 + "quit\n"
    first = _run(["--region", "neck", "--seed", "5"], script)
    assert first.exit_code == 0, first.output
    assert first.output.count("Case ") == 4 and first.output.count("[neck]") == 4
    assert _run(["--region", "neck", "--seed", "5"], script).output == first.output


@pytest.mark.parametrize("args", [["--region", "kneee"], ["--case", "no_such_case"]])
def test_an_unknown_region_or_case_is_exit_2_with_suggestions(args):
    result = _run(args, "quit\n")
    assert result.exit_code == 2 and "did you mean" in result.output


def test_parse_command():
    from compensa.engine import consultant_for

    vocab = consultant_for().vocabulary
    assert cli_quiz.parse_command("ask Ober test", vocab) == ("ask", ["Ober test"])
    assert cli_quiz.parse_command("ask ober_test thomas_test", vocab) == ("ask", ["ober_test", "thomas_test"])
    verb, answer = cli_quiz.parse_command("answer lhw stretch:tfl:right triage:routine", vocab)
    assert verb == "answer" and answer == {"root": "lhw", "targets": [{"action": "stretch", "muscle": "tfl",
                                                                       "side": "right"}], "triage": "routine"}
    assert cli_quiz.parse_command("next", vocab) == ("next", None)
    assert cli_quiz.parse_command("hello", vocab) == ("unknown", "hello")


def test_terminal_session_with_questionary(monkeypatch):
    """In a terminal the commands come from questionary menus; Ctrl-C (``ask()`` gives None) ends it."""
    import questionary

    replies = iter(["Ask for an assessment", "ober_test", "Answer", "lateral_hip_weakness",
                    "strengthen:gluteus_medius", None])

    class Prompt:
        def __init__(self, *args, **kwargs):
            pass

        def ask(self):
            return next(replies)

    for name in ("select", "autocomplete", "text"):
        monkeypatch.setattr(questionary, name, Prompt)
    monkeypatch.setattr(cli_quiz, "_Lines", lambda stream: cli_quiz._Terminal())
    result = _run(["--case", ITBS], "")
    assert result.exit_code == 0, result.output
    assert "Ober test: positive (right)" in result.output and "Final score: 2 / 2 over 1 case(s)" in result.output


# --- HTTP --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client():
    from compensa.app.http import create_app

    return TestClient(create_app(max_engines=2), raise_server_exceptions=False)


def test_http_quiz_view_ask_and_answer(client):
    view = client.post("/v1/quiz", json={"region": "knee", "seed": 3}).json()
    assert view["region"] == "knee" and {"case_id", "presenting", "revealed", "available", "choices"} <= set(view)
    asked = client.post("/v1/quiz", json={"case_id": ITBS, "asked": ["ober_test"]}).json()
    assert [r["text"] for r in asked["revealed"]] == ["Ober test: positive (right)"] and "score" not in asked
    body = {"case_id": ITBS, "asked": ["ober_test"],
            "answer": {"root": "lateral_hip_weakness", "targets": [{"muscle": "gluteus_medius", "action": "strengthen"}]}}
    scored = client.post("/v1/quiz", json=body).json()
    assert scored["score"]["full_marks"] and scored["explanation"]["text"] and scored["solution"]["summary"]


@pytest.mark.parametrize("body", [[1], {"case_id": ITBS, "bogus": 1}, {"case_id": 3}, {"asked": "ober_test"},
                                  {"asked": [1]}, {"seed": "1"}, {"seed": True}, {"case_id": "nope"},
                                  {"region": "kneee"}, {"case_id": ITBS, "asked": ["ober_tset"]},
                                  {"case_id": ITBS, "answer": {"root": "bogus_root"}},
                                  {"case_id": ITBS, "answer": "lateral_hip_weakness"}])
def test_http_quiz_bad_input_is_422(client, body):
    response = client.post("/v1/quiz", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


@pytest.mark.parametrize("term, entry_id, kind", [
    ("Thomas test", "thomas_test", "assessment"), ("glute med", "gluteus_medius", "muscle"),
    ("lateral_hip_weakness", "lateral_hip_weakness", "root"), ("IT band syndrome", "it_band_syndrome", "condition"),
    ("low back", "lower_back", "pain_site"), ("saddle_anaesthesia", "saddle_anaesthesia", "red_flag"),
    ("runner", "runner", "history")])
def test_kb_entry_by_id_or_readable_name(client, term, entry_id, kind):
    response = client.get(f"/v1/kb/entries/{term}")
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["id"] == entry_id and kind in [e["entry_type"] for e in data["entries"]] and data["kb_version"]


def test_kb_entry_links_both_ways_and_its_chain(client):
    root = client.get("/v1/kb/entries/lateral_hip_weakness").json()
    entry = root["entries"][0]
    assert entry["leads_to"] and all({"id", "mechanism", "source", "strength"} <= set(x) for x in entry["leads_to"])
    condition = client.get("/v1/kb/entries/it_band_syndrome").json()["entries"][0]
    assert "lateral_hip_weakness" in [x["id"] for x in condition["caused_by"]]
    edges = {(e["from"], e["to"]) for e in root["chain"]["edges"]}
    assert ("weak:gluteus_medius", "lateral_hip_weakness") in edges
    assert any(u == "lateral_hip_weakness" for u, _ in edges)
    muscle = client.get("/v1/kb/entries/gluteus_medius").json()
    assert "lateral_hip_weakness" in muscle["entries"][0]["in_roots"]["weak"] and muscle["chain"]["edges"]


def test_kb_entry_criterion_and_red_flag_clusters(client):
    from compensa.engine import consultant_for

    kb = consultant_for().kb
    criterion = next(iter(kb.criteria.values()))
    data = client.get(f"/v1/kb/entries/{criterion.id}").json()
    assert data["entries"][0]["entry_type"] == "criterion"
    member = (criterion.required + criterion.members)[0].id
    if member in kb.red_flags or member in kb.assessments:
        assert criterion.id in client.get(f"/v1/kb/entries/{member}").json()["entries"][0]["in_criteria"]


def test_kb_entry_unknown_is_404_with_suggestions(client):
    response = client.get("/v1/kb/entries/thomsa_test")
    assert response.status_code == 404
    detail = response.json()["detail"][0]
    assert "thomas_test" in detail["suggestions"] and detail["input"] == "thomsa_test"


def test_kb_entry_chain_graph_as_dot_and_svg(client):
    dot = client.get("/v1/kb/entries/lateral_hip_weakness?format=dot")
    assert dot.status_code == 200 and dot.text.startswith("digraph") and "Gluteus medius" in dot.text
    svg = client.get("/v1/kb/entries/lateral_hip_weakness?format=svg")
    assert svg.status_code == 200 and svg.headers["content-type"].split(";")[0] in ("image/svg+xml", "text/vnd.graphviz")
    assert client.get("/v1/kb/entries/lateral_hip_weakness?format=png").status_code == 422


# --- the pages (static checks; the CSP forbids inline script and style) ---------------------------

@pytest.mark.parametrize("page, script", [("quiz.html", "quiz.js"), ("kb.html", "kb.js")])
def test_pages_have_no_inline_script_or_style_and_label_their_inputs(page, script):
    html = (STATIC / page).read_text()
    assert f'<script src="/static/{script}"></script>' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers
    for control in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html):
        assert f'for="{control}"' in html, f"{page}: #{control} has no label"
    for link in ("/quiz", "/kb", 'href="/"'):
        assert link in html
    code = (STATIC / script).read_text()
    assert ".innerHTML" not in code and "eval(" not in code and "textContent" in code
