"""The bundled knowledge base: clean, complete, sourced and connected."""

from __future__ import annotations

import json

import networkx as nx
import pytest
import yaml

from compensa.errors import CaseError, KBError, UsageError
from compensa.kb import lint_kb, load_kb
from compensa.kb.show import describe, show, to_yaml

MINIMUM = {
    "muscles": """iliopsoas rectus_femoris tensor_fasciae_latae erector_spinae quadratus_lumborum rectus_abdominis
        transversus_abdominis obliques gluteus_maximus gluteus_medius piriformis hip_adductors hamstrings vastus_medialis
        gastrocnemius_soleus tibialis_posterior upper_trapezius levator_scapulae pectoralis_major pectoralis_minor
        sternocleidomastoid suboccipitals deep_neck_flexors lower_trapezius rhomboids serratus_anterior latissimus_dorsi""",
    "pain_sites": """head neck upper_back shoulder arm chest lower_back sacroiliac buttock groin lateral_hip anterior_thigh
        posterior_thigh lateral_thigh anterior_knee lateral_knee medial_knee calf shin heel foot_arch""",
    "findings": """forward_head rounded_shoulders shoulder_low thoracic_kyphosis scapular_winging anterior_pelvic_tilt
        posterior_pelvic_tilt lateral_pelvic_tilt pelvic_rotation hyperlordosis flat_back sway_back knee_valgus
        knee_hyperextension feet_turned_out overpronation leg_length_difference""",
    "tests": """thomas_test ober_test trendelenburg straight_leg_raise slump_test hamstring_90_90 faber fadir
        piriformis_test ely_test single_leg_squat hip_abductor_strength hip_extensor_strength abdominal_strength
        deep_neck_flexor_endurance pectoralis_minor_length sij_provocation navicular_drop""",
    "red_flags": """bladder_dysfunction bowel_dysfunction saddle_anaesthesia progressive_motor_weakness persistent_numbness
        paralysis chest_or_arm_pain constant_progressive_pain cancer_history significant_trauma fever feeling_very_unwell
        urinary_tract_infection unexplained_weight_loss transplant_or_immunosuppression""",
    "conditions": """sciatica piriformis_syndrome it_band_syndrome si_joint_dysfunction frozen_shoulder shoulder_impingement
        patellofemoral_pain hip_pain low_back_pain herniated_disc spinal_stenosis spondylolisthesis neck_pain
        tension_headache plantar_fasciitis""",
}


@pytest.fixture(scope="module")
def kb():
    return load_kb()


def test_bundled_kb_lints_clean():
    assert [str(p) for p in lint_kb()] == []


@pytest.mark.parametrize("kind", sorted(MINIMUM))
def test_minimum_vocabulary_is_defined(kb, kind):
    wanted = set(MINIMUM[kind].split())
    if kind == "findings":
        have = {a.id for a in kb.assessments.values() if a.kind == "finding"}
    elif kind == "tests":
        have = {a.id for a in kb.assessments.values() if a.kind == "test"}
    else:
        have = set(getattr(kb, kind))
    assert wanted - have == set()


def test_required_content_is_encoded(kb):
    for root in ("lower_crossed_syndrome", "upper_crossed_syndrome", "layer_syndrome", "flat_back_imbalance",
                 "sway_back_imbalance", "lateral_hip_weakness", "gluteus_maximus_inhibition", "lateral_pelvic_imbalance",
                 "pronation_distortion", "foot_turnout_imbalance", "forward_head_imbalance"):
        assert root in kb.roots
    assert "kyphotic_lordotic_posture" in kb.dysfunctions
    for flag in ("bladder_dysfunction", "bowel_dysfunction", "saddle_anaesthesia"):
        assert kb.red_flags[flag].level == "emergency"


def test_every_link_has_mechanism_and_resolving_source(kb):
    for link in kb.links:
        assert len(link.mechanism.split()) >= 5, link.id
        assert link.source in kb.sources, link.id
        assert kb.sources[link.source].url


def test_every_condition_reachable_and_every_root_reaches_pain(kb):
    reached = set()
    for root in kb.roots:
        nodes = nx.descendants(kb.graph, root)
        assert any(kb.conditions[n].sites for n in nodes if n in kb.conditions), root
        reached |= nodes
    unexplained = {c for c, record in kb.conditions.items() if not record.from_imbalance}
    assert set(kb.conditions) - reached - unexplained == set()
    assert all(kb.conditions[c].summary for c in unexplained)  # it says so plainly


def test_every_pain_site_has_a_condition(kb):
    assert {s for s in kb.pain_sites if not kb.conditions_at(s)} == set()


def test_version_has_human_version_and_content_hash(kb):
    name, version = kb.version_string.split(" ")
    assert name == "compensa" and "+" in version and len(version.split("+")[1]) == 12


def test_kb_show_gives_links_both_ways(kb):
    [entry] = describe(kb, "lower_crossed_syndrome")
    assert entry["entry_type"] == "root" and entry["leads_to"] and entry["source_citation"]
    [apt_dysfunction, apt_finding] = describe(kb, "anterior_pelvic_tilt")
    assert apt_dysfunction["caused_by"] and apt_finding["entry_type"] == "assessment"


def test_kb_show_unknown_id_is_bad_input_with_suggestions(kb):
    with pytest.raises(UsageError, match="did you mean 'ober_test'") as caught:
        describe(kb, "ober_tst")  # "obers test" is a readable name now; a typo is not
    assert not isinstance(caught.value, (KBError, CaseError))  # the KB and the case are fine; the id typed is not
    assert caught.value.exit_code == 2 and caught.value.problems[0].where == "kb show"


def test_kb_show_text_is_yaml_of_the_json_data(kb):
    for entry_id in (None, "it_band_syndrome", "anterior_pelvic_tilt", "iliopsoas", "lateral_knee"):
        data = show(kb, entry_id)
        text = to_yaml(data)
        assert yaml.safe_load(text) == json.loads(json.dumps(data)), entry_id
    assert to_yaml(show(kb, "it_band_syndrome")).startswith("entry_type: condition\n")
    assert isinstance(show(kb, "anterior_pelvic_tilt"), list) and set(show(kb)) == {"kb_version", "counts", "path"}
