"""How sided evidence supports unsided patterns (issue 10).

Bilateral hip-abductor weakness with no pain used to make lower crossed syndrome (0.48) outrank
lateral hip weakness, because the left and the right test each counted in full for the unsided
pattern, and the plan then stretched hip flexors, erectors and QL that no test had looked at.
"""

from __future__ import annotations

from compensa.engine import consult


def _roots(report) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in report.root_causes:
        out[r.id] = max(out.get(r.id, 0.0), r.confidence)
    return out


def test_a_bilateral_test_counts_once_for_an_unsided_pattern():
    both = _roots(consult({"tests": ["hip_abductor_strength:positive:both"]}))
    left = _roots(consult({"tests": ["hip_abductor_strength:positive:left"]}))
    assert both["lower_crossed_syndrome"] == left["lower_crossed_syndrome"]
    assert both["lateral_hip_weakness"] > both["lower_crossed_syndrome"]


def test_only_the_tested_weakness_is_targeted():
    report = consult({"tests": ["hip_abductor_strength:positive:both"]})
    assert {(t.muscle, t.action, t.side) for t in report.targets} == {
        ("gluteus_medius", "strengthen", "left"), ("gluteus_medius", "strengthen", "right")}


def test_a_bilateral_refutation_also_counts_once():
    one = _roots(consult({"findings": ["anterior_pelvic_tilt"], "tests": ["thomas_test:negative:left"]}))
    two = _roots(consult({"findings": ["anterior_pelvic_tilt"], "tests": ["thomas_test:negative:both"]}))
    assert one["lower_crossed_syndrome"] == two["lower_crossed_syndrome"]


def test_a_sided_pattern_still_reads_each_side_on_its_own():
    report = consult({"tests": ["hip_abductor_strength:positive:left", "trendelenburg:positive:left"]})
    sides = {(r.id, r.side) for r in report.root_causes if r.id == "lateral_hip_weakness"}
    assert sides == {("lateral_hip_weakness", "left")}


def test_a_bilateral_presentation_gets_a_plan_on_both_sides():
    report = consult({"tests": ["navicular_drop:positive:both"], "findings": ["overpronation:both"]})
    sides = {t.side for t in report.targets if t.root == "pronation_distortion"}
    assert sides == {"left", "right"}


def test_a_posture_test_alone_leaves_the_pattern_muscles_tentative():
    """A navicular drop measures the arch, not which muscles let it fall (the NASM pattern has 8)."""
    report = consult({"tests": ["navicular_drop:positive:right"], "findings": ["overpronation:right"]})
    pronation = [t for t in report.targets if t.root == "pronation_distortion"]
    assert pronation and all(t.tentative for t in pronation)
    assert not next(r for r in report.root_causes if r.id == "pronation_distortion").physically_confirmed
