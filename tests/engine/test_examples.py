"""The main compensation chains and the red flags, as a clinician would check them."""

from __future__ import annotations

import pytest

from compensa.engine import DISCLAIMER, consult


def top_root(report):
    return report.root_causes[0].id if report.root_causes else None


def targets(report):
    return {(t.muscle, t.action) for t in report.targets}


def test_lower_crossed_explains_low_back_pain():
    report = consult({"pain": ["lower_back"], "findings": ["anterior_pelvic_tilt", "hyperlordosis"],
                      "tests": ["thomas_test:positive", "abdominal_strength:positive"]})
    assert top_root(report) == "lower_crossed_syndrome"
    assert report.root_causes[0].status == "confirmed"
    assert {("iliopsoas", "stretch"), ("gluteus_maximus", "strengthen"), ("rectus_abdominis", "strengthen")} <= targets(report)
    # the abdominals and glutes do not hurt: the plan treats away from the pain
    assert any(not t.painful for t in report.targets)
    chain = next(t.chain for t in report.targets if t.muscle == "iliopsoas")
    assert chain[0] == "iliopsoas" and chain[1] == "lower_crossed_syndrome" and chain[-1] == "lower_back"


def test_weak_gluteus_medius_explains_it_band_pain():
    report = consult({"pain": [{"site": "lateral_knee", "side": "right"}],
                      "tests": ["trendelenburg:positive:right", "hip_abductor_strength:positive:right",
                                "ober_test:positive:right"]})
    root = report.root_causes[0]
    assert (root.id, root.side) == ("lateral_hip_weakness", "right")
    glute = next(t for t in report.targets if t.muscle == "gluteus_medius")
    assert glute.action == "strengthen" and glute.side == "right" and glute.painful is False
    assert glute.chain[-1] == "lateral_knee" and "it_band_syndrome" in glute.chain
    assert "does not hurt there" in glute.because


def test_forward_head_explains_headache():
    report = consult({"pain": ["head", "neck"], "findings": ["forward_head"],
                      "tests": ["deep_neck_flexor_endurance:positive"]})
    assert top_root(report) in ("upper_crossed_syndrome", "forward_head_imbalance")
    assert any(c.id in ("tension_headache", "cervicogenic_headache") for c in report.conditions)
    assert ("deep_neck_flexors", "strengthen") in targets(report)


def test_side_matters_right_finding_supports_right_root_more():
    base = {"pain": [{"site": "lateral_knee", "side": "right"}]}
    right = consult({**base, "tests": ["trendelenburg:positive:right"]})
    left = consult({**base, "tests": ["trendelenburg:positive:left"]})
    cf = lambda r, side: max((x.confidence for x in r.root_causes if x.id == "lateral_hip_weakness" and x.side == side), default=0)  # noqa: E731
    assert cf(right, "right") > cf(left, "right")


def test_physical_confirms_visual():
    visual = consult({"pain": ["lower_back"], "findings": ["anterior_pelvic_tilt"]})
    agree = consult({"pain": ["lower_back"], "findings": ["anterior_pelvic_tilt"], "tests": ["thomas_test:positive"]})
    disagree = consult({"pain": ["lower_back"], "findings": ["anterior_pelvic_tilt"], "tests": ["thomas_test:negative"]})
    cf = lambda r: next(x.confidence for x in r.root_causes if x.id == "lower_crossed_syndrome")  # noqa: E731
    assert cf(agree) > cf(visual) > cf(disagree)
    lcs = next(x for x in visual.root_causes if x.id == "lower_crossed_syndrome")
    assert not lcs.physically_confirmed and lcs.unconfirmed


def test_refuted_muscle_is_not_targeted():
    report = consult({"pain": ["lower_back"], "findings": ["anterior_pelvic_tilt", "hyperlordosis"],
                      "tests": ["abdominal_strength:positive", "hip_extensor_strength:positive", "thomas_test:negative"]})
    assert "iliopsoas" not in {t.muscle for t in report.targets}


@pytest.mark.parametrize("flag", ["saddle_anaesthesia", "bladder_dysfunction", "bowel_dysfunction"])
def test_cauda_equina_is_an_emergency_and_stops_everything(flag):
    report = consult({"pain": ["lower_back"], "red_flags": [flag], "findings": ["anterior_pelvic_tilt"]})
    data = report.to_dict()
    assert data["triage"]["level"] == "emergency" and data["triage"]["red_flags"] == [flag]
    assert data["targets"] == [] and data["plan_withheld"] and data["review_advice"] is None
    assert "emergency" in data["triage"]["advice"].lower()


def test_urgent_red_flag_withholds_plan_but_keeps_reasoning():
    report = consult({"pain": ["lower_back"], "red_flags": ["fever"], "findings": ["anterior_pelvic_tilt"]})
    assert report.triage.level == "urgent" and report.targets == [] and report.root_causes


def test_denied_red_flags_are_routine_and_unasked_ones_are_listed():
    report = consult({"pain": ["lower_back"], "red_flags": [{"id": "fever", "present": False}]})
    assert report.triage.level == "routine"
    assert "saddle_anaesthesia" in report.triage.not_screened and "fever" not in report.triage.not_screened


def test_report_contract_fields():
    data = consult({"pain": ["lateral_knee"]}).to_dict()
    for field in ("kb_version", "disclaimer", "triage", "root_causes", "dysfunctions", "conditions", "targets",
                  "next_assessments"):
        assert field in data
    assert data["disclaimer"] == DISCLAIMER
    assert {"level", "red_flags", "advice"} <= set(data["triage"])
    assert data["next_assessments"] and all({"id", "label", "why"} <= set(n) for n in data["next_assessments"])


def test_review_advice_present_when_plan_given():
    data = consult({"pain": ["lower_back"], "findings": ["anterior_pelvic_tilt"], "tests": ["thomas_test:positive"]}).to_dict()
    assert data["targets"] and "6 months" in data["review_advice"]


def test_diagnosis_is_taken_as_given():
    report = consult({"diagnoses": ["spondylolisthesis"]})
    assert report.conditions[0].id == "spondylolisthesis" and report.conditions[0].medical is True


def test_disc_herniation_withholds_the_flexion_stretch_and_asks_for_medical_review():
    report = consult({"pain": ["lower_back", "posterior_thigh:left", "calf:left"], "findings": ["anterior_pelvic_tilt"],
                      "tests": ["straight_leg_raise:positive:left", "thomas_test:positive"],
                      "history": ["pain_worse_sitting_or_bending"]})
    assert "herniated_disc" in report.triage.medical_review
    assert "medical diagnosis" in report.triage.advice
    erector = [t for t in report.targets if t.muscle == "erector_spinae"]
    assert erector and erector[0].exercise is None and "disc" in erector[0].caution


def test_a_weakness_a_test_confirms_is_targeted_even_outside_the_leading_pattern():
    report = consult({"pain": [{"site": "anterior_knee", "side": "left"}],
                      "tests": ["single_leg_squat:positive:left", "hip_abductor_strength:positive:left",
                                "hip_extensor_strength:positive:left"]})
    glute_max = [t for t in report.targets if t.muscle == "gluteus_maximus"]
    assert glute_max and glute_max[0].action == "strengthen" and "found it weak" in glute_max[0].because


def test_sagittal_postures_exclude_each_other():
    lordotic = consult({"pain": ["lower_back"], "findings": ["anterior_pelvic_tilt", "hyperlordosis"]})
    cf = {r.id: r.confidence for r in lordotic.root_causes}
    assert cf.get("lower_crossed_syndrome", 0) > cf.get("flat_back_imbalance", 0)
    assert "flat_back_imbalance" not in cf  # refuted, so not reported
    flat = consult({"pain": ["lower_back"], "findings": ["flat_back", "posterior_pelvic_tilt"]})
    assert flat.root_causes[0].id == "flat_back_imbalance"
    assert "lower_crossed_syndrome" not in {r.id for r in flat.root_causes}


def test_walking_pain_eased_by_sitting_points_to_stenosis():
    report = consult({"pain": ["lower_back", "calf:left", "calf:right"], "history": ["neurogenic_claudication"]})
    # beside "low back pain" (the pain itself); calf pain on both sides counts once for the unsided stenosis
    assert "spinal_stenosis" in [c.id for c in report.conditions[:2]]
    assert "spinal_stenosis" in report.triage.medical_review


def test_frozen_shoulder_is_put_down_to_the_capsule_not_a_muscle_pattern():
    report = consult({"pain": ["shoulder:left"], "tests": ["passive_external_rotation_loss:positive:left"],
                      "history": ["diabetes"]})
    assert report.root_causes[0].id == "shoulder_capsular_restriction"
    assert report.targets == [] and "frozen_shoulder" in report.triage.medical_review


def test_evidence_on_one_side_never_supports_the_other_side_through_an_unsided_node():
    report = consult({"pain": ["lower_back:left"], "tests": ["thomas_test:positive:right"]})
    for root in report.root_causes:
        if root.side:
            assert all(e.side in (None, root.side) for e in root.supporting), root


def test_contradicting_patterns_are_shown_not_hidden():
    report = consult({"pain": ["lower_back"], "findings": ["sway_back", "hyperlordosis"],
                      "tests": ["hamstring_90_90:positive"]})
    conflicts = [t for t in report.targets if t.conflict]
    assert all(t.conflict.action != t.action for t in conflicts)


def test_a_test_done_on_one_side_can_still_be_suggested_for_the_other():
    report = consult({"pain": ["lateral_knee:right"], "findings": ["knee_valgus:right"],
                      "tests": ["hip_abductor_strength:negative:left"]})
    assert any(n.id == "hip_abductor_strength" and n.side == "right" for n in report.next_assessments)


def test_pain_alone_gives_no_exercise_plan():
    report = consult({"pain": ["neck"]})
    assert report.root_causes and report.targets == [] and report.next_assessments


def test_visual_only_pattern_gives_tentative_targets():
    report = consult({"pain": ["lower_back"], "findings": ["anterior_pelvic_tilt", "hyperlordosis"]})
    assert report.targets and all(t.tentative for t in report.targets if not t.muscle_state_confirmed)
