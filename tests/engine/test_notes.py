"""Clinical notes (issue 12): spaCy rule matching + negspacy, scored on the annotated notes.

The yardstick is tests/data/notes/ (93 notes in our own words, every region). The floors below sit a
little under the figures last measured (F1 pain 0.89, findings 0.94, tests 0.97, red flags 0.95,
history 0.99, age 1.0, sex 1.0; negated red flags 120/126; raised ones found 63/71), so a change that
reads notes worse fails. The issue's aim (F1 >= 0.9 per field, every negated red flag) is not fully
reached: pain is just under 0.9 and 6 negated red flags are still missed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from compensa.engine import consult, consultant_for
from tests.data.notes.score_notes import items  # the one way notes are counted (the script and the tests)

NOTES_DIR = Path(__file__).resolve().parents[1] / "data" / "notes"
NOTES = sorted(NOTES_DIR.glob("*.yaml"))
#: Written by another author who never saw the parser, scored only after it was improved on NOTES:
#: the honest figure for notes from outside the repo (README "Held-out notes").
HELDOUT = sorted((NOTES_DIR / "heldout").glob("*.yaml"))
FIELDS = ("pain", "findings", "tests", "red_flags", "history", "age", "sex")
#: F1 floors on the annotated notes, a little under the last measured figures (see the module docstring).
FLOORS = {"pain": 0.87, "findings": 0.92, "tests": 0.95, "red_flags": 0.93, "history": 0.96, "age": 0.98, "sex": 0.98}
NEGATED_FLOOR = 0.93


def _parse(text: str) -> dict:
    return consultant_for().parse_note(text)


@pytest.fixture(scope="module")
def scores() -> dict:
    return _score(NOTES)


@pytest.fixture(scope="module")
def heldout_scores() -> dict:
    return _score(HELDOUT)


def _score(paths: list[Path]) -> dict:
    counts = {f: [0, 0, 0] for f in FIELDS}
    negated = [0, 0]
    denied_wrongly = []
    found = [0, 0]
    for path in paths:
        note = yaml.safe_load(path.read_text(encoding="utf-8"))
        got, expected = _parse(note["text"])["case"], note["expect"]
        for field in FIELDS:
            a, b = items(got, field), items(expected, field)
            counts[field][0] += len(a & b)
            counts[field][1] += len(a - b)
            counts[field][2] += len(b - a)
        answers = {g["id"]: g["present"] for g in got.get("red_flags", [])}
        raised = [f for f in expected.get("red_flags", []) if isinstance(f, dict) and f.get("present") in (True, "unsure")]
        denied_wrongly += [(note["id"], f["id"]) for f in raised if answers.get(f["id"]) is False]
        found[0] += sum(1 for f in raised if answers.get(f["id"]) in (True, "unsure"))
        found[1] += len(raised)
        for flag in expected.get("red_flags", []):
            if isinstance(flag, dict) and flag.get("present") is False:
                negated[1] += 1
                negated[0] += any(g.get("id") == flag["id"] and g.get("present") is False
                                  for g in got.get("red_flags", []))
    f1 = {}
    for field, (tp, fp, fn) in counts.items():
        precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        f1[field] = 2 * precision * recall / max(precision + recall, 1e-9)
    return {"f1": f1, "negated": negated[0] / max(negated[1], 1), "denied_wrongly": denied_wrongly,
            "raised_found": found[0] / max(found[1], 1)}


def test_the_annotated_notes_cover_every_region():
    regions = {yaml.safe_load(p.read_text(encoding="utf-8"))["region"] for p in NOTES}
    assert len(NOTES) >= 60 and len(regions) >= 15


@pytest.mark.parametrize("field", FIELDS)
def test_each_field_reads_at_least_as_well_as_when_the_parser_landed(scores, field):
    assert scores["f1"][field] >= FLOORS[field], scores["f1"]


def test_negated_red_flags_read_at_least_as_well_as_when_the_parser_landed(scores):
    assert scores["negated"] >= NEGATED_FLOOR


def test_red_flags_the_note_raises_are_found_at_least_as_often_as_when_the_parser_landed(scores):
    assert scores["raised_found"] >= 0.85  # 63 of 71 last measured (41 when the parser landed)


def test_no_red_flag_the_note_asserts_or_doubts_is_ever_read_as_denied(scores, heldout_scores):
    """The dangerous error: "denies trauma; reports numbness", "unsure whether the calf is swollen ... rule out DVT"."""
    assert scores["denied_wrongly"] == [] and heldout_scores["denied_wrongly"] == []


#: F1 on the held-out notes when they were added (measured: pain 0.81, findings 0.74, tests 0.88,
#: red flags 0.81, history 0.82, age and sex 1.0; negated flags 52/61, raised flags found 19/30).
HELDOUT_FLOORS = {"pain": 0.78, "findings": 0.7, "tests": 0.85, "red_flags": 0.78, "history": 0.78, "age": 0.97,
                  "sex": 0.97}


def test_the_heldout_notes_cover_every_region():
    regions = {yaml.safe_load(p.read_text(encoding="utf-8"))["region"] for p in HELDOUT}
    assert len(HELDOUT) >= 30 and len(regions) >= 15


@pytest.mark.parametrize("field", FIELDS)
def test_heldout_notes_read_at_least_as_well_as_when_they_were_added(heldout_scores, field):
    assert heldout_scores["f1"][field] >= HELDOUT_FLOORS[field], heldout_scores["f1"]


def test_heldout_red_flags_read_at_least_as_well_as_when_they_were_added(heldout_scores):
    assert heldout_scores["negated"] >= 0.82 and heldout_scores["raised_found"] >= 0.6, heldout_scores


@pytest.mark.parametrize("text, flag", [
    ("Not sure whether the numbness down there is new.", "saddle_anaesthesia"),
    ("No trauma. Unsure if her bladder has changed.", "bladder_dysfunction"),
    ("Denies fever, can't say if she has lost weight.", "unexplained_weight_loss"),
    ("?stress fracture of the 2nd MT, MRI requested.", "bone_stress_injury_suspected"),
])
def test_a_doubted_red_flag_is_never_read_as_denied(text, flag):
    answers = {f["id"]: f["present"] for f in _parse(text)["case"].get("red_flags", [])}
    assert answers.get(flag) in (True, "unsure"), answers


def test_general_reading_rules():
    case = _parse("Navicular drop 13 mm R, 8 mm L. Knee-to-wall 6 cm L vs 12 cm R. Hip abd 4/5 B/L. "
                  "Patella not tender. Knees cave in on single-leg squat. Bladder and bowel normal. Non-smoker. "
                  "Pain at night, eases when she turns over. Crossed SLR -ve. Painful arc 70-120 deg R.")["case"]
    assert {"id": "navicular_drop", "result": "positive", "side": "right"} in case["tests"]  # > 10 mm (Brody)
    assert {"id": "knee_to_wall_test", "result": "positive", "side": "left"} in case["tests"]  # 12 cm R: comparison
    assert {"id": "hip_abductor_strength", "result": "positive", "side": "both"} in case["tests"]
    assert {"id": "single_leg_squat", "result": "positive"} in case["tests"]  # the fault seen during it
    assert {"id": "painful_arc", "result": "positive", "side": "right"} in case["tests"]  # "70-120" is no "-"
    assert not any(t["id"] == "straight_leg_raise" for t in case["tests"])  # the crossed SLR is another test
    assert "pain" not in case  # knees caving in, a patella not tender: no complaint of pain
    answers = {f["id"]: f["present"] for f in case["red_flags"]}
    assert answers["bladder_dysfunction"] is answers["bowel_dysfunction"] is answers["vascular_risk_factors"] is False
    assert answers["night_pain"] is False and answers["isolated_patellar_tenderness"] is False


def test_a_note_becomes_a_case_with_spans_sides_negation_and_context():
    text = ("38 y/o F runner c/o R lateral knee pain x6/52. Ober +ve R, Trendelenburg -ve L. "
            "No numbness or tingling, denies bladder or bowel change. Enjoys knitting.")
    parsed = _parse(text)
    case = parsed["case"]
    assert case["pain"] == [{"site": "lateral_knee", "side": "right"}]
    assert {"id": "ober_test", "result": "positive", "side": "right"} in case["tests"]
    assert {"id": "trendelenburg", "result": "negative", "side": "left"} in case["tests"]
    assert {(f["id"], f["present"]) for f in case["red_flags"]} >= {
        ("persistent_numbness", False), ("bladder_dysfunction", False), ("bowel_dysfunction", False)}
    assert (case["age"], case["sex"], case["duration_weeks"]) == (38, "female", 6)
    assert {"id": "runner", "present": True} in case["history"]
    ober = next(s for s in parsed["spans"] if s["id"] == "ober_test")
    assert text[ober["start"]:ober["end"]] == "Ober"
    assert [u["text"] for u in parsed["unrecognised"]] == ["Enjoys knitting"]


def test_a_red_flag_in_a_note_withholds_the_plan_even_against_a_structured_no():
    case = {"pain": ["lower_back"], "findings": ["anterior_pelvic_tilt"], "tests": ["thomas_test:positive:both"],
            "red_flags": [{"id": "saddle_anaesthesia", "present": False}],
            "text": "Reports new saddle anaesthesia since yesterday."}
    report = consult(case)
    assert report.targets == [] and report.triage.level == "emergency"


def test_structured_fields_win_over_the_note():
    report = consult({"age": 40, "tests": ["ober_test:negative:right"], "text": "62yo M. Ober +ve R."}).to_dict()
    assert report["case"]["age"] == 40 and report["case"]["tests"] == [{"id": "ober_test", "result": "negative",
                                                                         "side": "right"}]


def test_http_parses_and_consults_notes():
    from compensa.app.http import create_app

    client = TestClient(create_app())
    parsed = client.post("/v1/parse", json={"text": "L lateral hip pain, Trendelenburg +ve L"}).json()
    assert {"id": "trendelenburg", "result": "positive", "side": "left"} in parsed["case"]["tests"]
    report = client.post("/v1/consult", json={"text": "LBP. Unsure about bladder change."}).json()
    assert report["plan_withheld"] and report["triage"]["level"] == "emergency"
    assert client.post("/v1/parse", json={"text": "x", "extra": 1}).status_code == 422
    assert client.post("/v1/parse", json={"text": "   "}).status_code == 422
