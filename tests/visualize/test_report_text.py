"""The text report (``compensa consult case.yaml``) as a clinician reads it: every caveat in words."""

from __future__ import annotations

from compensa.engine import consult, load_kb
from compensa.visualize.report_text import report_text
from tests.engine.test_plan_honesty import DISC, SIDES, TRENDELENBURG_NEGATIVE

KB = load_kb()


def text(case) -> str:
    return report_text(consult(case).to_dict())


def flat(value: str) -> str:
    """The text with its line wrapping undone, to find a sentence wherever the lines break."""
    return " ".join(value.split())


def section(value: str, title: str) -> str:
    """One section of the report: from its title line to the next blank line before a title."""
    start = value.index(f"\n{title}\n")
    rest = value[start + len(title) + 2:]
    ends = [i for i in (rest.find("\n\n" + t) for t in ("LIKELY", "CONDITIONS", "POSTURAL", "TARGETS", "NEXT")) if i >= 0]
    return rest[:min(ends)] if ends else rest


def row(value: str, label: str) -> str:
    """The targets-table row of a muscle."""
    table = section(value, "TARGETS").split("\n\n")[0]
    return next(line for line in table.splitlines() if line.strip().startswith(label + " "))


def test_a_test_that_disagrees_is_said_in_words_and_the_target_marked_tentative():
    report = text(TRENDELENBURG_NEGATIVE)
    assert "Trendelenburg test negative on the right argues against this" in flat(section(report, "WARNINGS"))
    assert "no  *?" in row(report, "Gluteus medius")  # away from the pain, tentative
    details = flat(section(report, "TARGETS"))
    assert "Gluteus medius (right): Strengthen the weak gluteus medius" in details
    assert "A test disagrees: Trendelenburg test negative on the right argues against this" in details
    assert "or a test disagrees" in details  # the legend explains the mark


def test_a_withheld_exercise_shows_what_and_why_never_a_bare_dash():
    report = text(DISC)
    erector = row(report, "Erector spinae")
    assert "WITHHELD: Knees-to-chest back stretch" in erector and not erector.rstrip().endswith("-")
    assert "Knees-to-chest back stretch withheld because herniated disc (" in flat(report)
    assert "is likely: Knees-to-chest bends the low back forward" in flat(report)
    for line in section(report, "TARGETS").split("\n\n")[0].splitlines()[1:]:
        assert not line.rstrip().endswith(" -"), line


def test_an_exercise_with_a_caution_shows_both():
    report = text({"pain": ["lower_back"], "findings": ["anterior_pelvic_tilt", "hyperlordosis"],
                   "tests": ["abdominal_strength:positive", "hip_extensor_strength:positive", "thomas_test:negative"]})
    assert "Knees-to-chest back stretch (caution below)" in row(report, "Erector spinae")
    assert "caution: Caution, herniated disc (" in flat(report)


def test_an_empty_case_says_red_flags_not_screened_not_clear():
    report = text({})
    assert report.splitlines()[2] == "TRIAGE: SELF CARE — Red flags not screened"
    assert "No red flags reported" not in report


def test_pain_only_says_not_screened_and_lists_the_questions_for_the_site():
    report = text({"pain": ["lower_back"]})
    assert "TRIAGE: ROUTINE — Red flags not screened" in report and "No red flags reported" not in report
    triage = flat(report.split("\nLIKELY ROOT CAUSES")[0])
    assert "Ask before any exercise (not yet asked for this pain):" in triage
    assert KB.red_flags["bladder_dysfunction"].question in triage  # the most severe come first, in full


def test_partly_screened_says_so():
    report = text({"pain": ["lower_back"], "red_flags": [{"id": "bladder_dysfunction", "present": False}]})
    assert "TRIAGE: ROUTINE — Red flags partly screened" in report
    assert "New bladder problems [emergency]" not in report  # asked, so not asked again


def test_completely_screened_and_clear_is_the_only_plain_triage():
    answers = [{"id": f, "present": False} for f in KB.pain_sites["lateral_hip"].screen]
    report = text({"pain": ["lateral_hip:left"], "red_flags": answers})
    assert report.splitlines()[2] == "TRIAGE: ROUTINE" and "not screened" not in report


def test_the_side_warning_comes_before_the_targets():
    report = text(SIDES)
    warnings = flat(section(report, "WARNINGS"))
    assert warnings.startswith("! Pain is on the right, but every sided test and finding is on the left")
    assert report.index("Pain is on the right") < report.index("\nLIKELY ROOT CAUSES") < report.index("\nTARGETS")
