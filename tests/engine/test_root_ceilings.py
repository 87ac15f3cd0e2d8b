"""Where it hurts does not name the root (issue 10): ceilings on root certainty by what shows its signs.

Pain alone, or a condition-level test (an SIJ provocation, a straight leg raise), says which tissue
hurts, not which muscles are out of balance: such a root stays "possible" (<= 0.3) and gets no plan.
Findings without a test of the pattern stay below a confirmed level (<= 0.6): the physical should
confirm the visual (seed_muscle_balance_therapy; domain.md 6.1).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compensa.engine import consult, load_kb
from compensa.engine.reasoning import UNOBSERVED_CEILING, VISUAL_ONLY_CEILING

KB = load_kb()
SITES = sorted(KB.pain_sites)
FINDINGS = sorted(a.id for a in KB.assessments.values() if a.kind == "finding")
MUSCULAR = {r for r, root in KB.roots.items() if root.kind == "muscular"}


def _muscular(report):
    return [r for r in report.root_causes if r.id in MUSCULAR]


@pytest.mark.parametrize("site", SITES)
def test_pain_alone_never_names_a_muscular_root_or_starts_a_plan(site):
    report = consult({"pain": [{"site": site, "side": "both"}], "history": ["runner", "prolonged_sitting"]})
    assert all(r.confidence <= UNOBSERVED_CEILING for r in _muscular(report))
    assert report.targets == []


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(FINDINGS), min_size=1, max_size=6, unique=True), st.sampled_from(SITES))
def test_findings_without_a_test_stay_below_confirmed(findings, site):
    report = consult({"pain": [site], "findings": findings})
    for root in _muscular(report):
        assert root.confidence <= VISUAL_ONLY_CEILING
        assert root.status != "confirmed" and not root.physically_confirmed
    assert all(t.tentative for t in report.targets)


def test_a_condition_level_test_does_not_confirm_a_muscle_pattern():
    report = consult({"pain": ["buttock:right", "sacroiliac:right"], "tests": ["sij_provocation:positive:right"]})
    assert any(c.id == "si_joint_dysfunction" and c.confidence >= 0.6 for c in report.conditions)
    for root in _muscular(report):
        assert not root.physically_confirmed and root.confidence <= UNOBSERVED_CEILING


def test_the_explanation_shows_the_ceiling():
    from compensa.visualize.explain import how

    report = consult({"pain": ["lower_back"]})
    top = how(report, verbose=True)["conclusions"][0]
    assert "held at 0.30: nothing seen or tested shows its signs" in top["arithmetic"]["text"]
    assert top["confidence"] == pytest.approx(0.3)


def test_a_test_of_the_pattern_lifts_the_ceiling():
    seen = consult({"pain": ["lower_back"], "findings": ["anterior_pelvic_tilt", "hyperlordosis"]})
    tested = consult({"pain": ["lower_back"], "findings": ["anterior_pelvic_tilt", "hyperlordosis"],
                      "tests": ["thomas_test:positive:left", "thomas_test:positive:right", "abdominal_strength:positive"]})
    lcs = lambda r: next(x for x in r.root_causes if x.id == "lower_crossed_syndrome")  # noqa: E731
    assert lcs(tested).confidence > VISUAL_ONLY_CEILING >= lcs(seen).confidence
    assert lcs(tested).physically_confirmed
