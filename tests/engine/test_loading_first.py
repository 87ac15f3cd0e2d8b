"""Tendon problems get loading before stretching (issue 10; Mellor 2018).

With a likely tendinopathy (a condition marked loading_first), the strengthening targets come first
and every stretch says to wait for loading; without one, nothing changes.
"""

from __future__ import annotations

from compensa.engine import consult, load_kb

KB = load_kb()
LATERAL_HIP = {"pain": ["lateral_hip:right"], "findings": ["lateral_pelvic_tilt"],
               "tests": ["trendelenburg:positive:right", "hip_abductor_strength:positive:right", "ober_test:positive:right"]}


def test_the_kb_marks_tendon_problems():
    assert KB.conditions["greater_trochanteric_pain_syndrome"].loading_first
    assert not KB.conditions["it_band_syndrome"].loading_first


def test_a_likely_tendinopathy_puts_loading_first_and_makes_every_stretch_wait():
    report = consult(LATERAL_HIP)
    assert any(c.id == "greater_trochanteric_pain_syndrome" and c.confidence >= 0.4 for c in report.conditions)
    actions = [t.action for t in report.targets]
    assert actions == sorted(actions, key=lambda a: a != "strengthen") and "strengthen" in actions
    stretches = [t for t in report.targets if t.action == "stretch"]
    assert stretches and all("Load first" in (t.caution or "") for t in stretches)


def test_without_a_tendon_problem_stretches_carry_no_loading_note():
    report = consult({"pain": ["lateral_knee:right"], "findings": ["knee_valgus:right"],
                      "tests": ["ober_test:positive:right", "trendelenburg:positive:right"]})
    assert report.targets and not any("Load first" in (t.caution or "") for t in report.targets)
