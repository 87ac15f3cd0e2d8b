"""Bad cases give clear errors naming the field path, the bad value and the closest ids — never a traceback."""

from __future__ import annotations

import pytest

from compensa.engine import consult
from compensa.engine.case import MAX_ITEMS, read_case_file
from compensa.errors import CaseError

BAD = [
    ("unknown-pain", {"pain": ["lateral_kne"]}, "pain[0].site", "unknown pain site 'lateral_kne'", "lateral_knee"),
    ("unknown-test", {"tests": [{"id": "obers", "result": "positive"}]}, "tests[0].id", "unknown test 'obers'", "ober_test"),
    ("test-as-finding", {"findings": ["ober_test"]}, "findings[0].id", "'ober_test' is not a finding: it belongs under 'tests'", None),
    ("missing-result", {"tests": [{"id": "ober_test"}]}, "tests[0].result", "test 'ober_test' needs a result", None),
    ("bad-result", {"tests": [{"id": "ober_test", "result": "postive"}]}, "tests[0].result", "result must be positive or negative", "positive"),
    ("bad-side", {"pain": [{"site": "lateral_knee", "side": "rigth"}]}, "pain[0].side", "side must be left, right or both", "right"),
    ("unknown-field", {"findings": [{"id": "knee_valgus", "sidee": "left"}]}, "findings[0].sidee", "unknown field 'sidee'", "side"),
    ("unknown-section", {"pains": ["lower_back"]}, "pains", "unknown case section 'pains'", "pain"),
    ("wrong-type", {"pain": 7}, "pain", "must be a list", None),
    ("bad-present", {"red_flags": [{"id": "fever", "present": "maybe"}]}, "red_flags[0].present", "present must be true, false or 'unsure'", None),
    ("contradiction", {"tests": ["ober_test:positive:right", "ober_test:negative:right"]}, "tests[1]",
     "contradicts tests[0]: ober_test is both positive and negative on the right side", None),
    ("too-many", {"pain": ["lower_back"] * (MAX_ITEMS + 1)}, "pain", f"too many items ({MAX_ITEMS + 1}; at most {MAX_ITEMS})", None),
    ("not-a-mapping", ["lower_back"], "", "a case must be a mapping", None),
    ("unknown-red-flag", {"red_flags": ["sadle_anaestesia"]}, "red_flags[0].id", "unknown red flag 'sadle_anaestesia'", "saddle_anaesthesia"),
    ("unknown-diagnosis", {"diagnoses": ["spondylolysthesis"]}, "diagnoses[0].id", "unknown diagnosis (condition)", "spondylolisthesis"),
]


@pytest.mark.parametrize(("case", "where", "message", "suggestion"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_case_names_field_value_and_suggestion(case, where, message, suggestion):
    with pytest.raises(CaseError) as caught:
        consult(case, strict=True)
    problems = caught.value.problems
    match = [p for p in problems if p.where == where and message in p.message]
    assert match, [str(p) for p in problems]
    if suggestion:
        assert suggestion in match[0].suggestions
    assert caught.value.exit_code == 2


def test_all_problems_reported_together():
    with pytest.raises(CaseError) as caught:
        consult({"pain": ["lateral_kne"], "tests": [{"id": "ober_test", "result": "x"}]}, strict=True)
    assert {p.where for p in caught.value.problems} == {"pain[0].site", "tests[0].result"}


def test_shorthand_and_aliases_are_accepted():
    report = consult({"pain": ["IT band:right", "outer knee:right"], "tests": ["Ober test:positive:right"]})
    assert report.case.to_dict()["pain"] == [{"site": "lateral_knee", "side": "right"}, {"site": "lateral_thigh", "side": "right"}]


def test_both_sides_expand():
    report = consult({"pain": [{"site": "lateral_knee", "side": "both"}]})
    assert {(e.id, e.side) for e in report.case.evidence} == {("lateral_knee", "left"), ("lateral_knee", "right")}


def test_unreadable_case_file_is_case_error(tmp_path):
    bad = tmp_path / "case.yaml"
    bad.write_text("pain: [lower_back\n")
    with pytest.raises(CaseError, match=r"case.yaml:2:1: not valid YAML"):
        read_case_file(bad)
    with pytest.raises(CaseError, match="cannot read case file"):
        read_case_file(tmp_path / "missing.yaml")


@pytest.mark.parametrize("field,value,message", [
    ("age", True, "expected a whole number, got bool"),
    ("age", "61", "expected a whole number, got str"),
    ("age", 61.5, "expected a whole number, got float"),
    ("age", -1, "must be at least 0"),
    ("age", 131, "must be at most 130"),
    ("sex", "f", "sex must be female or male"),
    ("onset", "slow", "onset must be sudden or gradual"),
    ("duration_weeks", 6000, "must be at most 5200"),
])
def test_context_fields_are_strict(field, value, message):
    with pytest.raises(CaseError) as err:
        consult({"pain": ["lower_back"], field: value})
    problem = err.value.problems[0]
    assert problem.where == field and message in problem.message


def test_context_fields_are_echoed_and_onset_is_read_as_history():
    report = consult({"pain": ["lower_back"], "age": 44, "sex": "female", "onset": "gradual", "duration_weeks": 10})
    case = report.to_dict()["case"]
    assert {k: case[k] for k in ("age", "sex", "onset", "duration_weeks")} == {
        "age": 44, "sex": "female", "onset": "gradual", "duration_weeks": 10}
    assert "history" not in case  # the onset is echoed once, as onset


def test_a_bad_context_field_is_reported_with_the_other_problems():
    with pytest.raises(CaseError) as err:
        consult({"pain": ["lower_bak"], "age": "old"}, strict=True)
    assert {p.where for p in err.value.problems} == {"pain[0].site", "age"}
