"""WHY / HOW / WHY NOT explanations."""

from __future__ import annotations

import re

import pytest

from compensa.engine import consult, consultant_for
from compensa.errors import UsageError
from compensa.visualize import explain

KNEE = {"pain": [{"site": "lateral_knee", "side": "right"}], "findings": ["anterior_pelvic_tilt"],
        "tests": ["trendelenburg:positive:right", "ober_test:positive:right", "thomas_test:negative:right"]}


@pytest.fixture(scope="module")
def report():
    return consult(KNEE)


@pytest.fixture(scope="module")
def vocab():
    return consultant_for().vocabulary


def test_why_target_walks_the_chain_to_the_pain_with_mechanisms_and_sources(report, vocab):
    data = explain.why_target(report, "glute med", vocab)
    assert data["is_target"] and data["muscle"] == "gluteus_medius"
    [target] = data["targets"]
    assert target["chain"][0] == "gluteus_medius" and target["chain"][-1] == "lateral_knee"
    assert all(step["mechanism"] and step["source"]["citation"] for step in target["steps"])
    assert target["away_from_pain"] and "Treating only where it hurts" in target["away_from_pain"]
    assert any("Trendelenburg" in ev["evidence"] for ev in target["steps"][0]["evidence"])
    assert "AWAY FROM THE PAIN" in explain.to_text(data)


def test_why_target_for_a_refuted_muscle_says_why_not(report, vocab):
    data = explain.why_target(report, "iliopsoas", vocab)
    assert not data["is_target"] and any("argue against" in r or "not likely enough" in r or "None of" in r
                                         for r in data["reasons"])


def test_why_not_names_the_conflicting_evidence(report, vocab):
    data = explain.why_not(report, "lower crossed", vocab)
    assert data["root"] == "lower_crossed_syndrome"
    assert any("Thomas test (right) negative" == a["evidence"] for a in data["against"])
    assert data["would_change_answer"]
    assert "against it: Thomas test (right) negative" in explain.to_text(data)


def test_why_not_for_an_unreached_root_lists_what_would_bring_it_in(report, vocab):
    data = explain.why_not(report, "shoulder_capsular_restriction", vocab)
    assert data["status"].startswith("not reached") and data["would_change_answer"]


def test_why_not_for_a_refuted_root_says_the_evidence_is_against_it(report, vocab):
    data = explain.why_not(report, "flat_back_imbalance", vocab)
    assert data["status"].startswith("the evidence argues against it")
    assert [a["evidence"] for a in data["against"]] == ["Anterior pelvic tilt present"]


def test_how_verbose_shows_the_arithmetic(report):
    data = explain.how(report, verbose=True)
    top = data["conclusions"][0]
    assert top["id"] == "lateral_hip_weakness" and top["arithmetic"]["cf"] == pytest.approx(top["confidence"], abs=1e-3)
    assert "CF = (MB - MD)" in explain.to_text(data)


def test_unknown_target_suggests(report, vocab):
    with pytest.raises(UsageError, match="unknown target 'glutius_medius'") as caught:
        explain.why_target(report, "glutius_medius", vocab)
    assert "gluteus_medius" in caught.value.problems[0].suggestions


def test_why_not_sees_a_one_sided_belief(vocab):
    report = consult({"pain": ["lateral_knee:left"], "tests": ["navicular_drop:negative:left"]})
    data = explain.why_not(report, "pronation_distortion", vocab)
    assert data["confidence"] < 0 and data["against"]


def test_unknown_root_in_why_not_is_bad_input_with_suggestions(report, vocab):
    with pytest.raises(UsageError, match="unknown why_not 'lower_crossed_syndrom'") as caught:
        explain.why_not(report, "lower_crossed_syndrom", vocab)
    assert "lower_crossed_syndrome" in caught.value.problems[0].suggestions and caught.value.exit_code == 2


@pytest.mark.parametrize("case", [KNEE, {"pain": ["lower_back"], "findings": ["anterior_pelvic_tilt", "hyperlordosis"],
                                         "tests": ["thomas_test:positive", "abdominal_strength:positive"]}])
def test_arithmetic_shows_exactly_what_the_engine_combined(case):
    report = consult(case)
    data = explain.how(report, verbose=True)
    assert data["conclusions"]
    for conclusion in data["conclusions"]:
        key = ("Belief", conclusion["id"], conclusion["side"] or "")
        engine = report.reasoning.combination(key)
        shown = conclusion["arithmetic"]
        assert shown["cf"] == round(report.reasoning.reported_cf(key), 4) == round(engine.cf, 4)
        assert (shown["mb"], shown["md"]) == (round(engine.mb, 4), round(engine.md, 4))
        # the factors printed are the contributions the engine multiplied, one for one and in order
        factors = re.findall(r"\(1 - (\d\.\d{3})\)", shown["text"])
        assert factors == [f"{v:.3f}" for v in (*engine.positive, *engine.negative)]
        # and they are the steps listed, signed
        steps = sorted(s["added"] for s in conclusion["steps"] if s["added"])
        assert steps == sorted(x for x in [round(v, 3) for v in engine.positive] + [round(-v, 3) for v in engine.negative] if x)


def test_each_kind_renders_with_its_own_heading(report, vocab):
    assert explain.to_text(explain.how(report)).startswith("HOW THE CONCLUSIONS WERE REACHED")
    assert explain.to_text(explain.why_target(report, "gluteus_medius", vocab)).startswith("WHY GLUTEUS MEDIUS?")
    assert explain.to_text(explain.why_not(report, "lower_crossed_syndrome", vocab)).startswith("WHY NOT ")
