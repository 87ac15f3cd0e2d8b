"""What-if and visit comparison (issue 15): what changes, why, and what to do with each exercise."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compensa.engine import consultant_for
from compensa.engine.compare import compare_visits
from compensa.engine.whatif import apply_changes, changes_from_terms, what_if
from compensa.errors import CaseError

KNEE = {"pain": [{"site": "lateral_knee", "side": "right"}], "findings": ["anterior_pelvic_tilt"],
        "tests": ["trendelenburg:positive:right"]}


def test_adding_a_confirming_test_raises_its_root_and_says_why():
    result = what_if(consultant_for(), KNEE, add={"tests": ["ober_test:positive:right"]})
    change = next(c for c in result["changes"] if c["id"] == "lateral_hip_weakness")
    assert change["after"] > change["before"] and "Ober test positive (right) supports it" in change["why"]
    assert {"id": "ober_test", "result": "positive", "side": "right"} in result["case"]["tests"]


def test_removing_a_finding_lowers_what_it_supported():
    result = what_if(consultant_for(), KNEE, remove={"findings": ["anterior_pelvic_tilt"]})
    change = next(c for c in result["changes"] if c["id"] == "lower_crossed_syndrome")
    assert change["after"] < change["before"] and "no longer: Anterior pelvic tilt present" in change["why"]
    assert "findings" not in result["case"]


def test_a_red_flag_added_withholds_the_plan_and_every_target_is_dropped():
    result = what_if(consultant_for(), KNEE, add={"red_flags": ["saddle_anaesthesia"]})
    assert result["changes"][0]["kind"] == "triage" and result["after"]["triage"] == "emergency"
    assert result["after"]["plan_withheld"] and result["after"]["targets"] == []
    dropped = [c for c in result["changes"] if c["kind"] == "target"]
    assert dropped and all(not c["after"] and "withheld" in c["why"] for c in dropped)


def test_changing_a_test_result_replaces_it():
    changed = apply_changes({"tests": [{"id": "ober_test", "result": "positive", "side": "right"}]},
                            add={"tests": ["ober_test:negative:right"]})
    assert changed["tests"] == ["ober_test:negative:right"]


def test_no_change_means_no_changes():
    assert what_if(consultant_for(), KNEE, add={"history": []})["changes"] == []


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(["ober_test:positive:right", "thomas_test:positive:right", "hip_abductor_strength:positive:right",
                        "single_leg_squat:positive:right", "knee_valgus:right", "runner"]))
def test_what_if_after_equals_consulting_the_changed_case(term):
    consultant = consultant_for()
    add = changes_from_terms(consultant.vocabulary, [term], "--add")
    result = what_if(consultant, KNEE, add=add)
    direct = consultant.consult(result["case"]).to_dict()
    assert [r["id"] for r in result["after"]["root_causes"]] == [r["id"] for r in direct["root_causes"]]


def test_terms_are_placed_in_their_section_and_unknown_ones_refused_with_suggestions():
    vocabulary = consultant_for().vocabulary
    assert changes_from_terms(vocabulary, ["ober_test:positive:right", "knee_valgus:left", "runner"], "--add") == {
        "tests": ["ober_test:positive:right"], "findings": ["knee_valgus:left"], "history": ["runner"]}
    with pytest.raises(CaseError) as caught:
        changes_from_terms(vocabulary, ["obr_test:positive"], "--add")
    assert "ober_test" in caught.value.problems[0].suggestions


def test_an_unknown_section_in_add_is_refused():
    with pytest.raises(CaseError):
        what_if(consultant_for(), KNEE, add={"test": ["ober_test:positive"]})


FIRST = {"date": "2026-06-01", "pain": ["lateral_knee:right"], "findings": ["anterior_pelvic_tilt"],
         "tests": ["trendelenburg:positive:right", "ober_test:positive:right", "thomas_test:positive:both"]}
SECOND = {"date": "2026-07-15", "pain": ["lateral_knee:right"],
          "tests": ["trendelenburg:negative:right", "ober_test:positive:right", "thomas_test:negative:both"]}


def test_visits_compared_say_what_resolved_improved_and_what_to_do():
    result = compare_visits(consultant_for(), FIRST, SECOND)
    assert result["weeks_between"] == 6
    assert "lower_crossed_syndrome" in {r["id"] for r in result["resolved"]}
    assert "lateral_hip_weakness" in {r["id"] for r in result["improved"]}
    advice = {(t["muscle"], t["side"]): t["advice"] for t in result["targets"]}
    assert advice[("iliopsoas", None)] == "drop" and advice[("gluteus_medius", "right")] == "progress"
    assert result["review"]["when"] == "2027-01-15" and "6 months" in result["review"]["why"]


def test_visits_are_put_in_date_order():
    forward, backward = compare_visits(consultant_for(), FIRST, SECOND), compare_visits(consultant_for(), SECOND, FIRST)
    assert forward == backward


def test_the_same_visit_twice_changes_nothing():
    result = compare_visits(consultant_for(), FIRST, dict(FIRST, date="2026-12-01"))
    assert not (result["resolved"] or result["improved"] or result["worse"] or result["new"])
    assert {t["advice"] for t in result["targets"]} == {"keep"}


def test_a_red_flag_at_the_second_visit_asks_for_review_after_medical_care():
    result = compare_visits(consultant_for(), FIRST, dict(SECOND, red_flags=["saddle_anaesthesia"]))
    assert result["visits"][1]["plan_withheld"] and result["review"]["when"] is None
    assert "medical assessment" in result["review"]["why"]


def test_a_bad_date_is_refused():
    with pytest.raises(CaseError) as caught:
        compare_visits(consultant_for(), FIRST, dict(SECOND, date="15/07/2026"))
    assert "ISO date" in str(caught.value)
