"""The quiz over the case library: what is shown, what asking reveals, and how an answer is scored."""

from __future__ import annotations

import pytest

from compensa.engine import consultant_for
from compensa.engine import quiz as engine_quiz
from compensa.errors import CaseError, UsageError
from compensa.visualize.quiz_explain import quiz_view

ITBS = "lq_itbs_runner_weak_abductors"   # lateral_hip_weakness; strengthen gluteus_medius; not strengthen TFL
RIGHT = {"root": "lateral_hip_weakness", "targets": [{"muscle": "gluteus_medius", "action": "strengthen"}]}


@pytest.fixture(scope="module")
def consultant():
    return consultant_for()


@pytest.fixture(scope="module")
def cases():
    return {c.id: c for c in engine_quiz.library()}


def test_the_view_shows_the_complaint_and_hides_findings_and_tests(consultant, cases):
    view = quiz_view(consultant, ITBS)
    assert view["case_id"] == ITBS and view["region"] == cases[ITBS].region
    assert view["revealed"] == [] and "score" not in view and "explanation" not in view
    presenting = view["presenting"]
    assert [p["id"] for p in presenting["pain"]] == ["lateral_knee"] and presenting["pain"][0]["side"] == "right"
    assert {h["id"] for h in presenting["history"]} == {"runner", "downhill_running"}
    shown = repr(presenting)
    for hidden in ("ober_test", "Ober", "noble", "hip_abductor", "Noble"):
        assert hidden not in shown
    # everything the case did can be asked, among many it did not (the list does not give the case away)
    done = {t["id"] for t in cases[ITBS].case["tests"]}
    assert done <= set(view["available"]) and len(view["available"]) > 5 * len(done)
    assert {c["id"] for c in view["choices"]} == set(view["available"])


def test_asking_reveals_exactly_that_item_or_not_done(consultant):
    view = quiz_view(consultant, ITBS, asked=["Ober test", "thomas_test"])
    ober, thomas = view["revealed"]
    assert ober["id"] == "ober_test" and ober["done"] and ober["results"] == [{"value": "positive", "side": "right"}]
    assert ober["text"] == "Ober test: positive (right)"
    assert thomas["id"] == "thomas_test" and not thomas["done"] and thomas["text"].endswith("not done")
    assert "noble" not in repr(view["revealed"])


def test_a_red_flag_question_reveals_the_screening_answer(consultant, cases):
    case = next(c for c in cases.values() if c.case.get("red_flags"))
    flag = case.case["red_flags"][0]["id"]
    item = quiz_view(consultant, case.id, asked=[flag])["revealed"][0]
    assert item["kind"] == "red_flag" and item["done"] and item["results"][0]["value"] in ("present", "absent", "unsure")


def test_an_unknown_assessment_is_refused_with_suggestions(consultant):
    with pytest.raises(CaseError) as exc:
        quiz_view(consultant, ITBS, asked=["ober_tset"])
    problem = exc.value.problems[0]
    assert problem.where == "asked[0]" and "ober_test" in problem.suggestions


def test_a_correct_answer_scores_full_marks(consultant):
    view = quiz_view(consultant, ITBS, answer=RIGHT)
    score = view["score"]
    assert score["full_marks"] and score["points"] == score["max_points"] == 2.0
    assert score["root"]["correct"] and score["targets"]["precision"] == score["targets"]["recall"] == 1.0
    assert view["solution"]["expected"]["roots_any"] == ["lateral_hip_weakness"]
    assert "HOW THE CONCLUSIONS WERE REACHED" in view["explanation"]["text"]


def test_readable_names_are_accepted_in_the_answer(consultant):
    answer = {"root": "lateral hip weakness", "targets": [{"muscle": "glute med", "action": "strengthen"}]}
    assert quiz_view(consultant, ITBS, answer=answer)["score"]["full_marks"]


def test_a_wrong_root_gets_the_why_not_explanation(consultant):
    view = quiz_view(consultant, ITBS, answer={"root": "upper_crossed_syndrome", "targets": RIGHT["targets"]})
    root = view["score"]["root"]
    assert not root["correct"] and not root["partial"] and root["points"] == 0
    why_not = [i for i in view["explanation"]["items"] if i["kind"] == "why_not"]
    assert why_not[0]["about"] == "upper_crossed_syndrome"
    assert "WHY NOT UPPER CROSSED SYNDROME?" in view["explanation"]["text"]


def test_a_root_in_compensas_top_3_gets_half_a_point(consultant):
    view = quiz_view(consultant, ITBS, answer=RIGHT)
    runner_up = next(r for r in view["score"]["root"]["compensa_top3"] if r != "lateral_hip_weakness")
    score = quiz_view(consultant, ITBS, answer={"root": runner_up, "targets": RIGHT["targets"]})["score"]
    assert score["root"]["partial"] and score["root"]["points"] == 0.5 and score["points"] == 1.5


def test_harmful_targets_are_flagged_and_cost_points(consultant):
    answer = {"root": "lateral_hip_weakness", "targets": RIGHT["targets"]
              + [{"muscle": "tensor_fasciae_latae", "action": "strengthen"}]}
    view = quiz_view(consultant, ITBS, answer=answer)
    targets = view["score"]["targets"]
    assert [t["muscle"] for t in targets["harmful"]] == ["tensor_fasciae_latae"] and targets["extra"] == []
    assert targets["precision"] == 0.5 and targets["recall"] == 1.0
    assert targets["points"] == pytest.approx(max(0.0, targets["f1"] - engine_quiz.HARM_PENALTY))
    assert not view["score"]["full_marks"]
    assert "HARMFUL: strengthen Tensor fasciae latae" in view["explanation"]["text"]


def test_missed_targets_are_explained_with_why_target(consultant):
    view = quiz_view(consultant, ITBS, answer={"root": "lateral_hip_weakness", "targets": []})
    targets = view["score"]["targets"]
    assert targets["recall"] == 0.0 and [t["muscle"] for t in targets["missed"]] == ["gluteus_medius"]
    assert "WHY GLUTEUS MEDIUS?" in view["explanation"]["text"]


def test_a_case_expecting_no_root_is_answered_none(consultant, cases):
    case = next(c for c in cases.values() if not c.expect.roots_any and not c.expect.targets)
    assert quiz_view(consultant, case.id, answer={"root": "none", "targets": []})["score"]["full_marks"]
    wrong = quiz_view(consultant, case.id, answer={"root": "lateral_hip_weakness", "targets": []})
    assert not wrong["score"]["root"]["correct"]
    assert any(i["about"] == "no_root" for i in wrong["explanation"]["items"])


def test_triage_is_scored_when_given(consultant, cases):
    case = next(c for c in cases.values() if "urgent" in c.expect.triage or "emergency" in c.expect.triage)
    level = case.expect.triage[0]
    score = quiz_view(consultant, case.id, answer={"root": None, "targets": [], "triage": level})["score"]
    assert score["triage"] == {"answer": level, "expected": list(case.expect.triage), "correct": True}


@pytest.mark.parametrize("answer, where", [
    ({"root": "lateral_hip_weaknes"}, "answer.root"),
    ({"root": "none", "targets": [{"muscle": "glutes_maximum", "action": "strengthen"}]}, "answer.targets[0].muscle"),
    ({"root": "none", "targets": [{"muscle": "gluteus_medius", "action": "massage"}]}, "answer.targets[0].action"),
    ({"root": "none", "targets": "gluteus_medius"}, "answer.targets"),
    ({"root": "none", "target": []}, "answer"),
    ({"root": "none", "triage": "soon"}, "answer.triage"),
])
def test_a_bad_answer_is_refused_naming_the_field(consultant, answer, where):
    with pytest.raises(CaseError) as exc:
        quiz_view(consultant, ITBS, answer=answer)
    assert exc.value.problems[0].where == where


def test_case_choice_by_region_and_seed_is_repeatable(consultant, cases):
    first = quiz_view(consultant, region="knee", seed=7)
    assert first["region"] == "knee" and quiz_view(consultant, region="knee", seed=7)["case_id"] == first["case_id"]
    drawn = {quiz_view(consultant, seed=s)["case_id"] for s in range(6)}
    assert len(drawn) > 1 and drawn <= set(cases)


def test_an_unknown_case_or_region_names_the_closest(consultant):
    with pytest.raises(UsageError) as exc:
        quiz_view(consultant, region="kneee")
    assert "knee" in exc.value.problems[0].suggestions
    with pytest.raises(UsageError) as exc:
        quiz_view(consultant, ITBS + "x")
    assert ITBS in exc.value.problems[0].suggestions


def test_the_engine_view_without_an_explainer_still_scores(consultant):
    view = engine_quiz.quiz_view(consultant, ITBS, answer=RIGHT)
    assert view["score"]["full_marks"] and "explanation" not in view
