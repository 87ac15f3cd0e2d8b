"""Unknown terms never lose a consultation, and never drop a red flag (issue 12).

Default: the consultation runs on everything understood and the report lists the rest in
``unrecognised`` with suggestions of the same kind. A red-flag answer that cannot be matched, or an
unknown term anywhere that reads like a red flag, answered yes or unsure, withholds the plan.
``strict`` refuses instead.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from compensa.engine import consult
from compensa.errors import CaseError

KNEE = {"pain": ["lateral_knee:right"], "findings": ["knee_valgus:right"],
        "tests": ["ober_test:positive:right", "trendelenburg:positive:right"],
        "red_flags": [{"id": "saddle_anaesthesia", "present": False}]}


def test_an_unknown_word_is_listed_and_the_rest_is_consulted():
    plain = consult(KNEE).to_dict()
    report = consult(dict(KNEE, history=["lots of sit-ups", "runner"])).to_dict()
    assert report["unrecognised"] == [{"term": "lots of sit-ups", "where": "history[0].id",
                                       "suggestions": report["unrecognised"][0]["suggestions"]}]
    assert report["targets"] and report["root_causes"][0]["id"] == plain["root_causes"][0]["id"]
    assert report["case"]["history"] == [{"id": "runner", "present": True}]
    assert any(w["code"] == "unrecognised" and "lots of sit-ups" in w["message"] for w in report["warnings"])


def test_suggestions_stay_in_their_kind():
    [item] = consult(dict(KNEE, tests=["obers:positive:right"])).to_dict()["unrecognised"]
    assert item["suggestions"][0] == "ober_test" and item["where"] == "tests[0].id"
    [item] = consult(dict(KNEE, findings=["ober_test"])).to_dict()["unrecognised"]
    assert item["suggestions"] == ["tests: ober_test"]  # it belongs in another section: said so


def test_strict_refuses_and_names_the_term():
    with pytest.raises(CaseError) as err:
        consult(dict(KNEE, history=["lots of sit-ups"]), strict=True)
    assert err.value.problems[0].where == "history[0].id"
    with pytest.raises(CaseError):
        consult(dict(KNEE, history=["lots of sit-ups"], strict=True))


@pytest.mark.parametrize("answer", [True, "unsure"])
def test_an_unmatched_red_flag_answered_yes_or_unsure_withholds_the_plan(answer):
    report = consult(dict(KNEE, red_flags=[{"id": "weird tingly bottom", "present": answer}])).to_dict()
    assert report["targets"] == [] and report["plan_withheld"]
    assert report["triage"]["level"] in ("urgent", "emergency")
    assert report["triage"]["unmatched"] == ["weird tingly bottom"]
    assert "weird tingly bottom" in report["triage"]["advice"]
    assert report["warnings"][0]["code"] == "unmatched_red_flag"


def test_an_unmatched_red_flag_answered_no_keeps_the_plan_but_is_listed():
    report = consult(dict(KNEE, red_flags=[{"id": "weird tingly bottom", "present": False}])).to_dict()
    assert report["targets"] and report["unrecognised"][0]["term"] == "weird tingly bottom"


@pytest.mark.parametrize("section,item", [
    ("diagnoses", "cauda equina"), ("history", "bladder problems"), ("findings", "saddle numbness"),
    ("history", "Cauda Equina Syndrome"),
])
def test_a_term_that_reads_like_a_red_flag_in_any_section_withholds_the_plan(section, item):
    report = consult(dict(KNEE, **{section: [item]})).to_dict()
    assert report["targets"] == [] and report["triage"]["level"] in ("urgent", "emergency"), report["triage"]


@settings(max_examples=30, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", min_size=3, max_size=30), st.sampled_from([True, "unsure"]))
def test_no_red_flag_answer_is_ever_dropped(word, answer):
    from compensa.engine import consultant_for

    known = consultant_for().vocabulary.resolve("red_flag", word)
    assume(known is None or consultant_for().kb.red_flags[known].level != "review")  # a known review sign keeps it
    report = consult(dict(KNEE, red_flags=[{"id": word, "present": answer}])).to_dict()
    assert report["targets"] == [] and report["plan_withheld"]
