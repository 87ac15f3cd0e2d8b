"""Criteria (all-of, k-of-n, none-of, same side) compiled into joined experta rules.

A small KB gets a Laslett-style "3 of 5 provocation tests, same side, no centralisation" cluster that
supports a condition, and a red-flag cluster (a review sign plus age) that raises an alarm. The tests
state what a clinician would notice: the cluster counts only when really met, on the side it was
met, with the evidence that met it named, and a red-flag cluster withholds the plan like a flag.
"""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compensa.engine import consult
from compensa.engine.inference import CompiledKB
from compensa.kb import load_kb
from compensa.visualize.graph import explanation_graph
from tests.kb.minimal import write_kb

PROVOCATION = ["p1", "p2", "p3", "p4", "p5"]

_TESTS = "\n".join(f"""\
  - id: {t}
    label: Provocation {t}
    kind: test
    region: knee
    sided: true
    how: Provoke.
    reading: Familiar pain.
    source: src
    on_positive:
      - {{node: knee_pain, strength: 0.1, evidence: L}}
""" for t in PROVOCATION + ["centralises"])

EXTRA = {
    "more.yaml": "assessments:\n" + _TESTS + """\
red_flags:
  - id: night
    label: Night pain
    question: Pain at night?
    category: malignancy
    level: review
    advice: Monitor it.
    source: src
criteria:
  - id: cluster
    label: Provocation cluster
    need: 3
    of:
""" + "".join(f"      - {{test: {t}}}\n" for t in PROVOCATION) + """\
    none_of:
      - {test: centralises}
    same_side: true
    supports:
      - {node: knee_pain, strength: 0.6, evidence: M}
    mechanism: Three provocations agreeing point at the joint.
    source: src
  - id: night_over_50
    label: Night pain at 50 or over
    all_of:
      - {red_flag: night}
      - {age_at_least: 50}
    alarm: urgent
    advice: See a doctor soon.
    mechanism: Two weak signs together.
    source: src
""",
}


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    return load_kb(write_kb(tmp_path_factory.mktemp("kb"), extra=EXTRA))


def _case(positive: dict[str, str], **extra) -> dict:
    """A case with the given provocation tests positive on the given sides (others negative on the right)."""
    tests = [{"id": t, "result": "positive", "side": side} for t, side in positive.items()]
    tests += [{"id": t, "result": "negative", "side": "right"} for t in PROVOCATION if t not in positive]
    return {"pain": [{"site": "knee_site", "side": "right"}], "tests": tests, **extra}


def _met(report) -> list[tuple[str, str | None]]:
    return [(c.id, c.side) for c in report.data.criteria]


def test_three_of_five_on_one_side_meets_the_cluster_on_that_side(kb):
    report = consult(_case({"p1": "right", "p3": "right", "p5": "right"}), kb)
    assert _met(report) == [("cluster", "right")]
    met = report.data.criteria[0]
    assert sorted(m.id for m in met.met_by) == ["p1", "p3", "p5"]
    assert met.source == "src"


def test_two_of_five_do_not(kb):
    assert _met(consult(_case({"p1": "right", "p2": "right"}), kb)) == []


def test_three_positives_split_across_sides_do_not(kb):
    assert _met(consult(_case({"p1": "right", "p2": "right", "p3": "left"}), kb)) == []


def test_an_excluded_finding_stops_it(kb):
    case = _case({"p1": "right", "p2": "right", "p3": "right"})
    case["tests"].append({"id": "centralises", "result": "positive"})
    assert _met(consult(case, kb)) == []
    case["tests"][-1]["result"] = "negative"  # asked, and absent: no longer excludes
    assert _met(consult(case, kb)) == [("cluster", "right")]


def test_the_cluster_raises_its_condition_on_its_side(kb):
    met = consult(_case({"p1": "right", "p2": "right", "p3": "right"}), kb)
    two = consult(_case({"p1": "right", "p2": "right"}), kb)
    cf = {c.id + (c.side or ""): c.confidence for c in met.conditions}
    assert cf["knee_painright"] > {c.id + (c.side or ""): c.confidence for c in two.conditions}["knee_painright"] + 0.15


def test_more_members_never_lower_the_cluster_conclusion(kb):
    three = consult(_case({t: "right" for t in PROVOCATION[:3]}), kb)
    five = consult(_case({t: "right" for t in PROVOCATION}), kb)
    assert [c.confidence for c in five.conditions][0] >= [c.confidence for c in three.conditions][0]
    assert len(five.data.criteria[0].met_by) == 5  # every member that met it is named


def test_every_criterion_support_is_justified_by_case_evidence(kb):
    compiled = CompiledKB(kb)
    evidence = [{"kind": "test", "id": t, "side": "left", "value": "positive"} for t in PROVOCATION[:4]]
    run = compiled.run(evidence)
    given_keys = {("Evidence", e["kind"], e["id"], e["side"], e["value"]) for e in evidence}
    joined = [s for s in run.supports if s.conclusion[0] == "Criterion"]
    assert joined and all(s.premise in given_keys and s.via == "criterion:cluster" for s in joined)
    assert {s.conclusion for s in joined} == {("Criterion", "cluster", "left")}
    assert sum(1 for rule in run.fired if rule.startswith("join:cluster:")) == 4  # C(4, 3) subsets met


def test_the_explanation_graph_joins_the_members_into_the_criterion(kb):
    report = consult(_case({"p1": "right", "p2": "right", "p4": "right"}), kb)
    graph = explanation_graph(report)
    node = "criterion:cluster:right"
    assert graph.nodes[node]["role"] == "criterion"
    firing = next(graph.predecessors(node))
    members = {graph.nodes[p]["id"] for p in graph.predecessors(firing)}
    assert members == {"p1", "p2", "p4"}
    assert graph.edges[firing, node]["mechanism"] == "Three provocations agreeing point at the joint."


@settings(max_examples=30, deadline=None)
@given(st.randoms(use_true_random=False))
def test_order_of_evidence_never_changes_what_is_met(kb, rnd: random.Random):
    case = _case({"p1": "right", "p2": "right", "p4": "right", "p5": "left"})
    reference = consult(case, kb).to_dict()
    shuffled = dict(case, tests=rnd.sample(case["tests"], len(case["tests"])))
    report = consult(shuffled, kb).to_dict()
    assert report["criteria"] == reference["criteria"]
    assert report["conditions"] == reference["conditions"]


# -- red-flag clusters -------------------------------------------------------------------------

KNEE_PLAN = {"pain": [{"site": "knee_site", "side": "right"}], "tests": ["glute_test:positive:right"],
             "findings": ["valgus:right"]}


def test_a_review_sign_alone_keeps_the_plan(kb):
    report = consult(dict(KNEE_PLAN, red_flags=[{"id": "night", "present": True}], age=49), kb)
    assert report.triage.level == "routine" and report.targets and report.triage.review == ["night"]


@pytest.mark.parametrize("answer", [True, "unsure"])
def test_a_review_sign_with_age_meets_the_cluster_and_withholds_the_plan(kb, answer):
    report = consult(dict(KNEE_PLAN, red_flags=[{"id": "night", "present": answer}], age=50), kb)
    assert report.triage.level == "urgent"
    assert report.triage.clusters == ["night_over_50"]
    assert report.targets == [] and report.plan_withheld
    assert "See a doctor soon." in report.triage.advice


def test_the_cluster_is_what_raises_the_alarm_not_age_alone(kb):
    report = consult(dict(KNEE_PLAN, age=80), kb)
    assert report.triage.level == "routine" and report.targets


@pytest.mark.parametrize("members", list(itertools.permutations(["night", "age"])))
def test_cluster_members_in_any_order(kb, members):
    case = dict(KNEE_PLAN)
    for member in members:
        if member == "night":
            case["red_flags"] = [{"id": "night", "present": True}]
        else:
            case["age"] = 72
    assert consult(case, kb).triage.clusters == ["night_over_50"]
