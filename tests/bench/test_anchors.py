"""The benchmark's anchors agree: compensa, plain experta, CLIPS (when clipspy is installed) and the
pure-Python floor give the same support set and the same halt on a handful of library cases chosen to
cover the semantics (a plan, an emergency halt, red-flag clusters, an age clause, a same-side k-of-n join)."""

from __future__ import annotations

import pytest

from bench.anchors import Anchors, BenchCase, disagreements, library_cases
from bench.clips_encoding import clips_available
from bench.floor import Floor
from bench.synthetic import synthetic_kb, typical_case
from compensa.engine import Consultant, consultant_for
from compensa.engine.rules import compile_joins, compile_rules

CASES = [
    "lq_itbs_runner_weak_abductors",        # routine: chain, plan and targets
    "lq_sij_laslett_three_of_five_right",   # same-side 3-of-5 join, then a plan
    "hk_rf_ottawa_age_over_55",             # an age clause (numeric test), urgent: no plan
    "sp_rf_myelopathy_cook_cluster",        # a red-flag cluster (join) raising an urgent alarm
    "ul_rf_vision_loss_jaw_pain",           # emergency and urgent alarms: the stop halts the run
    "uq_rf_mscc_cancer_weakness",           # an emergency cluster with a halt
]


@pytest.fixture(scope="module")
def anchors():
    consultant = consultant_for()  # the bundled KB's, shared with the other tests
    built = Anchors.build(consultant.kb, consultant, with_clips=clips_available())
    yield built
    built.close()


@pytest.fixture(scope="module")
def cases(anchors):
    library = dict(library_cases())
    return [BenchCase(name, library[name], anchors.consultant.parse(library[name]).facts()) for name in CASES]


@pytest.fixture(scope="module")
def found(anchors, cases):
    return disagreements(anchors, cases)


def test_the_sample_covers_plans_halts_alarms_and_joins(anchors, cases):
    outcomes = [anchors.floor.run(c.evidence) for c in cases]
    kinds = [{s[0][0] for s in supports} for supports, _ in outcomes]
    assert any("Plan" in k and "Target" in k for k in kinds)
    assert any(halted for _, halted in outcomes) and not all(halted for _, halted in outcomes)
    assert any("Alarm" in k and "Plan" not in k for k in kinds)
    assert any(any(s[2].startswith("join:") for s in supports) for supports, _ in outcomes)


def test_compensa_plain_experta_and_the_floor_agree(found):
    assert [line for line in found if not line.split(": ", 1)[1].startswith("CLIPS")] == []


@pytest.mark.skipif(not clips_available(), reason="clipspy is not installed: `uv sync --extra bench` (make bench)")
def test_clips_agrees_with_compensa(anchors, found):
    assert anchors.clips is not None
    assert found == []


def test_a_generated_kb_checks_clean_and_the_floor_agrees_on_it():
    kb = synthetic_kb(100)
    consultant = Consultant(kb)
    floor = Floor(compile_rules(kb), compile_joins(kb))
    for seed in range(3):
        evidence = consultant.parse(typical_case(kb, seed)).facts()
        run = consultant.compiled.run(evidence)
        assert floor.run(evidence) == ({(s.conclusion, s.premise, s.rule, s.via, s.strength) for s in run.supports},
                                       run.halted)
