"""The interview (`compensa.engine.interview`): red flags first, the most informative question next, a clear stop."""

from __future__ import annotations

import random

import pytest

from compensa.engine import consultant_for
from compensa.engine.evaluate import BUNDLED_CASES, read_library
from compensa.engine.interview import _change, _confidences, add_answer, next_question
from compensa.errors import CaseError

KNEE = {"pain": [{"site": "lateral_knee", "side": "right"}]}


@pytest.fixture(scope="module")
def consultant():
    return consultant_for()


@pytest.fixture(scope="module")
def library():
    cases, _ = read_library(BUNDLED_CASES)
    return cases


def _screened(consultant, case: dict) -> dict:
    """``case`` with every red flag of its screening list answered no."""
    asks = consultant.consult(case).to_dict()["triage"]["not_screened"]
    return dict(case, red_flags=list(case.get("red_flags", [])) + [{"id": f, "present": False} for f in asks])


def _expected_change(consultant, case, kind: str, id_: str, side: str | None) -> float:
    parsed = consultant.parse(case)
    before = _confidences(consultant.consult(parsed))
    answers = ("positive", "negative") if kind == "test" else ("present", "absent")
    return sum(_change(before, _confidences(consultant.consult(add_answer(parsed, kind, id_, side or "", a))))
               for a in answers) / 2


def test_red_flags_come_first_worst_first(consultant):
    result = next_question(consultant, KNEE)
    ask = consultant.consult(KNEE).to_dict()["triage"]["ask"]
    assert result["question"]["kind"] == "red_flag" and result["question"]["id"] == ask[0]["id"]
    assert ask[0]["level"] == "emergency" and not result["should_stop"]
    assert result["question"]["text"] == ask[0]["question"] and result["question"]["side"] is None
    assert result["rationale"].startswith("Red flags first")


def test_a_skipped_red_flag_moves_to_the_next_and_answered_ones_are_not_asked_again(consultant):
    ask = [a["id"] for a in consultant.consult(KNEE).to_dict()["triage"]["ask"]]
    assert next_question(consultant, KNEE, skipped=[ask[0]])["question"]["id"] == ask[1]
    answered = dict(KNEE, red_flags=[{"id": ask[0], "present": False}])
    assert next_question(consultant, answered)["question"]["id"] == ask[1]


def test_every_red_flag_comes_before_any_assessment(consultant):
    case = dict(KNEE)
    ask = consultant.consult(case).to_dict()["triage"]["not_screened"]
    for flag in ask[:-1]:
        case = dict(case, red_flags=case.get("red_flags", []) + [{"id": flag, "present": False}])
        assert next_question(consultant, case)["question"]["kind"] == "red_flag"
    done = _screened(consultant, KNEE)
    assert next_question(consultant, done)["question"]["kind"] in ("test", "finding", "history")


@pytest.mark.parametrize("answer", [True, "unsure"])
def test_a_present_or_unsure_red_flag_stops_the_interview(consultant, answer):
    result = next_question(consultant, {"pain": ["lower_back"],
                                        "red_flags": [{"id": "saddle_anaesthesia", "present": answer}]})
    assert result["should_stop"] and result["question"] is None and result["triage"] == "emergency"
    assert "medical care" in result["rationale"]


def test_after_screening_a_sided_assessment_on_the_painful_side_with_a_rationale_in_kb_labels(consultant):
    result = next_question(consultant, _screened(consultant, KNEE))
    question = result["question"]
    assert question["kind"] in ("test", "finding") and question["how_to"] and question["text"]
    kb = consultant.kb
    if kb.assessments[question["id"]].sided:
        assert question["side"] == "right"
    labels = [root.label for root in kb.roots.values()]
    assert any(label[1:] in result["rationale"] for label in labels), result["rationale"]
    assert result["ranking"] and {"id", "label", "confidence", "side"} <= set(result["ranking"][0])
    assert [c["expected_change"] for c in result["candidates"]] == sorted(
        (c["expected_change"] for c in result["candidates"]), reverse=True)


def test_a_done_or_skipped_assessment_is_not_asked_again(consultant):
    case = _screened(consultant, KNEE)
    first = next_question(consultant, case)["question"]
    answered = dict(case, tests=[{"id": first["id"], "result": "positive", "side": "right"}]) \
        if first["kind"] == "test" else dict(case, findings=[{"id": first["id"], "side": "right"}])
    assert next_question(consultant, answered)["question"]["id"] != first["id"]
    side = f":{first['side']}" if first["side"] else ""
    assert next_question(consultant, case, skipped=[first["id"] + side])["question"]["id"] != first["id"]


def test_the_chosen_question_changes_the_ranking_more_than_a_random_unasked_one(consultant, library):
    rng = random.Random(15)
    picked = [c for c in library if c.expect.roots_any and c.expect.triage == ["routine"]]
    picked = rng.sample(picked, 6)
    kb = consultant.kb
    wins = 0
    for lib_case in picked:
        start = _screened(consultant, {k: lib_case.case[k] for k in ("pain", "red_flags") if k in lib_case.case})
        result = next_question(consultant, start)
        question = result["question"]
        chosen = _expected_change(consultant, start, question["kind"], question["id"], question["side"])
        sides = sorted({p.get("side", "") for p in start["pain"] if isinstance(p, dict)}) or [""]
        other = rng.choice([a for a in kb.assessments.values() if a.id != question["id"]])
        random_change = _expected_change(consultant, start, other.kind, other.id, sides[0] if other.sided else None)
        assert chosen >= random_change - 1e-9, (lib_case.id, question["id"], other.id)
        wins += chosen > random_change
    assert wins >= 4


def test_stops_when_the_top_root_is_confirmed(consultant, library):
    stopped = 0
    for lib_case in library:
        report = consultant.consult(lib_case.case)
        roots = report.root_causes
        if report.plan_withheld or not roots or roots[0].status != "confirmed" or roots[0].confidence < 0.6:
            continue
        result = next_question(consultant, _screened(consultant, lib_case.case))
        assert result["should_stop"], lib_case.id
        assert "clear" in result["rationale"]
        stopped += 1
        if stopped >= 3:
            break
    assert stopped >= 1


def test_bad_input_is_a_case_error(consultant):
    with pytest.raises(CaseError):
        next_question(consultant, {"pain": ["lateral_knee"], "red_flag": []})
    with pytest.raises(CaseError):
        next_question(consultant, {"pain": ["lateral_kneee"]}, strict=True)


def test_same_input_same_question(consultant):
    case = _screened(consultant, KNEE)
    assert next_question(consultant, case) == next_question(consultant, case)


def test_without_pain_the_posture_screen_comes_first(consultant):
    result = next_question(consultant, {})
    assert result["question"]["kind"] == "finding" and not result["should_stop"]
