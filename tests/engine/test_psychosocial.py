"""Yellow flags (STarT Back): stratified advice that never withholds the plan or changes triage."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compensa.engine import consult, load_kb
from compensa.errors import CaseError

KB = load_kb()
ITEMS = sorted((f for f in KB.yellow_flags.values() if f.startback_item), key=lambda f: f.startback_item)
BACK = {"pain": ["lower_back"], "findings": ["anterior_pelvic_tilt"], "tests": ["thomas_test:positive:both"]}


def _answers(yes: set[int]) -> list[dict]:
    return [{"id": f.id, "present": f.startback_item in yes} for f in ITEMS]


def test_the_kb_holds_the_nine_startback_items():
    assert [f.startback_item for f in ITEMS] == list(range(1, 10))
    assert [f.startback_item for f in ITEMS if f.psychosocial] == [5, 6, 7, 8, 9]


@pytest.mark.parametrize("yes,risk", [
    (set(), "low"), ({1, 2, 3}, "low"), ({1, 2, 3, 4}, "medium"), ({1, 5, 6, 7}, "medium"),
    ({5, 6, 7, 8}, "high"), ({1, 2, 3, 4, 5, 6, 7, 8, 9}, "high"), ({3, 4, 5, 6, 7}, "medium"),
])
def test_startback_strata(yes, risk):
    report = consult(dict(BACK, yellow_flags=_answers(yes)))
    assert report.data.psychosocial.risk == risk and report.data.psychosocial.complete
    assert report.data.psychosocial.score == len(yes)


def test_not_screened_is_never_shown_as_low_risk():
    block = consult(BACK).data.psychosocial
    assert block.risk == "not_assessed" and "not yet asked" in block.advice


def test_unasked_items_are_named_and_a_pain_site_answers_leg_pain():
    block = consult({"pain": ["lower_back", "calf:left"], "yellow_flags": ["fear_avoidance"]}).data.psychosocial
    assert "referred_leg_pain" in block.flags and block.score == 2 and not block.complete
    assert "walks_only_short_distances" in block.not_asked and "may be higher" in block.advice


@settings(max_examples=25, deadline=None)
@given(st.sets(st.integers(1, 9)))
def test_yellow_flags_never_change_triage_or_the_plan(yes):
    plain = consult(BACK).to_dict()
    flagged = consult(dict(BACK, yellow_flags=_answers(yes))).to_dict()
    assert flagged["triage"] == plain["triage"]
    assert flagged["targets"] == plain["targets"] and flagged["root_causes"] == plain["root_causes"]


def test_a_yellow_flag_is_named_readably_and_an_unknown_one_suggested():
    assert consult(dict(BACK, yellow_flags=["kinesiophobia"])).data.psychosocial.flags == ["fear_avoidance"]
    with pytest.raises(CaseError) as err:
        consult(dict(BACK, yellow_flags=["fear avoidence"]), strict=True)
    assert err.value.problems[0].where == "yellow_flags[0].id" and "fear_avoidance" in err.value.problems[0].suggestions
